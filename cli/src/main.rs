//! `hearth`: the headless Hearth node for people running nodes and relays, for scripts, and
//! for tests. Glue only: parse, call `hearth_core::Node`, print. Human text by default, JSON
//! lines with `--json`; errors go to stderr as a sentence with a non-zero exit code.
//!
//! This file only wires: the commands that own the process (a running node, a relay, the
//! benchmarks) go to their modules; every other command is a [`NodeCommand`], executed by the
//! node this process opens, or forwarded to the `hearth run` holding the data directory.

mod bench;
mod bench_blobs;
mod bench_net;
mod bench_relay;
mod commands;
mod control;
mod node_command;
mod output;
mod relay;
mod run;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use hearth_core::Node;

use control::Holder;
use node_command::{Globals, NodeCommand};

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: family messaging that keeps working when the servers don't"
)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Node(NodeCommand),
    /// Measure performance against the budgets in ARCHITECTURE.md.
    Bench(bench::Args),
    /// Measure network latency, catch-up and the libp2p floor (see bench_net.rs).
    BenchNet(bench_net::Args),
    /// Measure photos and files: preview and whole on a LAN peer against the libp2p stream
    /// floor, disk per blob, memory while a large file crosses (see bench_blobs.rs).
    BenchBlobs(bench_blobs::Args),
    /// Measure relayed against direct paths, mailbox rates and catch-up, and relay memory.
    BenchRelay(bench_relay::Args),
    /// Run the node in the foreground: listen, discover family, sync (Ctrl-C stops).
    Run(run::Args),
    /// Run a relay for families: circuit relay, rendezvous, AutoNAT and a blind mailbox
    /// (needs no identity; the data directory holds the relay's key and mailbox).
    Relay(relay::Args),
}

fn default_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("XDG_DATA_HOME") {
        return PathBuf::from(d).join("hearth");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".local/share/hearth")
}

async fn run(cli: Cli) -> Result<()> {
    let Globals { data_dir, json } = cli.globals;
    let dir = data_dir.clone().unwrap_or_else(default_data_dir);
    match cli.command {
        Command::Bench(args) => bench::run(args, json).await,
        Command::BenchNet(args) => bench_net::run(args, json, data_dir).await,
        Command::BenchBlobs(args) => bench_blobs::run(args, json).await,
        Command::BenchRelay(args) => bench_relay::run(args, json).await,
        Command::Relay(args) => relay::run(&dir, args, json).await,
        Command::Run(args) => match control::open(&dir).await? {
            Holder::This(node) => {
                let res = run::run(&node, &dir, args, json).await;
                shut_down(node, res).await
            }
            Holder::Running => anyhow::bail!("a node is already running on this data directory"),
        },
        Command::Node(command) => match control::open(&dir).await? {
            Holder::This(node) => {
                let res = commands::execute(&node, json, command, commands::Stdin::Process).await;
                shut_down(node, res).await
            }
            Holder::Running => control::forward(&dir, &command).await,
        },
    }
}

/// Stops the node, then reports the command's result (a failed shutdown comes first: the
/// command's writes may not be durable).
async fn shut_down(node: Node, res: Result<()>) -> Result<()> {
    node.shutdown().await?;
    res
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("HEARTH_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let json = cli.globals.json;
    if let Err(e) = rt.block_on(run(cli)) {
        output::error(json, &e);
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Each command on the command line either runs in an open node (and so can be forwarded to
    /// a running one, under the same name) or owns its process and is refused by the socket.
    #[test]
    fn every_command_is_a_node_command_or_owns_its_process() {
        let cli = Cli::command();
        let forwardable = control::Forwarded::command();
        let mut owners = Vec::new();
        for name in cli.get_subcommands().map(|c| c.get_name()) {
            if forwardable.find_subcommand(name).is_none() {
                let refused = control::parse(vec![name.into()]).err().unwrap_or_default();
                assert!(refused.contains("cannot be forwarded"), "{name}: {refused}");
                owners.push(name);
            }
        }
        assert_eq!(
            owners,
            [
                "bench",
                "bench-net",
                "bench-blobs",
                "bench-relay",
                "run",
                "relay"
            ]
        );
        for name in forwardable.get_subcommands().map(|c| c.get_name()) {
            assert!(
                cli.find_subcommand(name).is_some(),
                "`hearth {name}` is missing"
            );
        }
    }

    #[test]
    fn only_a_node_command_reaches_the_forwarding_path() {
        let send = Cli::try_parse_from(["hearth", "send", "--to", "Mom", "hi"]).unwrap();
        assert!(matches!(
            send.command,
            Command::Node(NodeCommand::Send { .. })
        ));
        let run = Cli::try_parse_from(["hearth", "run", "--lan-only"]).unwrap();
        assert!(matches!(run.command, Command::Run(_)));
    }
}
