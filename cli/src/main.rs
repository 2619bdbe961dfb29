//! `hearth`: the headless Hearth node for people running nodes and relays, for scripts, and
//! for tests. Glue only: parse, call `hearth_core::Node`, print. Human text by default, JSON
//! lines with `--json`; errors go to stderr as a sentence with a non-zero exit code.

mod bench;
mod bench_net;
mod bench_relay;
mod commands;
mod control;
mod output;
mod relay;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: family messaging that keeps working when the servers don't"
)]
pub struct Cli {
    /// Data directory of this device.
    #[arg(long, env = "HEARTH_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Print JSON lines instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create this device's identity.
    Init {
        #[arg(long)]
        name: String,
    },
    /// Show who this device is.
    Whoami,
    /// Print an invite code (and QR code) for someone to add you.
    Invite {
        #[arg(long)]
        qr: bool,
        /// How long the invite stays valid, in hours.
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        /// An extra address to put in the invite (repeatable), e.g. a forwarded port.
        #[arg(long)]
        addr: Vec<String>,
        /// Revoke this invite code instead of making one.
        #[arg(long, value_name = "CODE")]
        revoke: Option<String>,
    },
    /// Accept someone's invite code.
    Accept {
        code: String,
        /// Also start using the relays the invite offers (a relay sees who connects when, so
        /// they are used only if you say so; without this, they are listed).
        #[arg(long)]
        use_relays: bool,
    },
    /// List contacts.
    Contacts,
    /// Rename, verify or block a contact.
    Contact {
        #[command(subcommand)]
        action: ContactAction,
    },
    /// List conversations.
    Chats,
    /// Create and manage groups.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Send a message (prints its id once it is durably stored).
    Send {
        #[arg(long, conflicts_with = "to")]
        chat: Option<String>,
        /// A contact's name: sends in your 1:1 conversation.
        #[arg(long)]
        to: Option<String>,
        /// Read one message per line from standard input instead.
        #[arg(long)]
        stdin: bool,
        text: Option<String>,
    },
    /// Reply to a message.
    Reply { message: String, text: String },
    /// Edit one of your messages.
    Edit { message: String, text: String },
    /// Delete one of your messages for everyone.
    Delete { message: String },
    /// React to a message (or remove your reaction with --remove).
    React {
        message: String,
        emoji: Option<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Mark a conversation as read.
    Read {
        #[arg(long)]
        chat: String,
    },
    /// Show messages of a conversation.
    Messages {
        #[arg(long)]
        chat: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Search messages.
    Search {
        text: String,
        #[arg(long)]
        chat: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Move conversations between devices with a file.
    Bundle {
        #[command(subcommand)]
        action: BundleAction,
    },
    /// Export a conversation as a Yjs document or JSON.
    Export {
        #[arg(long)]
        chat: String,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the database and that documents agree with what is shown.
    Check,
    /// Measure performance against the budgets in ARCHITECTURE.md.
    Bench(bench::Args),
    /// Measure network latency, catch-up and the libp2p floor (see bench_net.rs).
    BenchNet(bench_net::Args),
    /// Measure relayed against direct paths, mailbox rates and catch-up, and relay memory.
    BenchRelay(bench_relay::Args),
    /// Run the node in the foreground: listen, discover family, sync (Ctrl-C stops).
    Run(run::Args),
    /// Run a relay for families: circuit relay, rendezvous, AutoNAT and a blind mailbox
    /// (needs no identity; the data directory holds the relay's key and mailbox).
    Relay(relay::Args),
    /// Show this device, the network, and how each contact is reached.
    Status,
    /// "I'm safe": a check-in to every conversation.
    Checkin,
    /// The family board: who is reachable, what waits for them, their latest check-in.
    Board,
}

#[derive(Subcommand)]
pub enum ContactAction {
    Rename {
        contact: String,
        name: Option<String>,
    },
    Verify {
        contact: String,
    },
    Block {
        contact: String,
    },
    Unblock {
        contact: String,
    },
}

#[derive(Subcommand)]
pub enum GroupAction {
    Create {
        name: String,
        #[arg(long = "member", required = true)]
        members: Vec<String>,
    },
    Add {
        #[arg(long)]
        chat: String,
        member: String,
    },
    Remove {
        #[arg(long)]
        chat: String,
        member: String,
    },
    Rename {
        #[arg(long)]
        chat: String,
        name: String,
    },
    Leave {
        #[arg(long)]
        chat: String,
    },
    Members {
        #[arg(long)]
        chat: String,
    },
}

#[derive(Subcommand)]
pub enum BundleAction {
    /// Write envelopes to a file: all, or what a device lacks (given its `bundle state`).
    Export {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        since: Option<PathBuf>,
    },
    /// Verify and merge a bundle file.
    Import { file: PathBuf },
    /// Write this device's version vectors (what it holds) for `bundle export --since`.
    State {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Json,
    Yjs,
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
    let json = cli.json;
    if let Err(e) = rt.block_on(commands::run(cli)) {
        output::error(json, &e);
        std::process::exit(1);
    }
}
