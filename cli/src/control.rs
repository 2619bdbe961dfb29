//! The control socket of a running node. `hearth run` holds the data directory (its lock), so
//! a command that uses the node on the same directory is forwarded over a Unix socket in it and
//! executed by the running node: `hearth send` from another shell goes out at once.
//!
//! Only a [`NodeCommand`] can be forwarded: the socket parses what it receives as one (with the
//! global options) and nothing else, so `run`, `relay` or a benchmark is refused by construction
//! rather than by a list kept in step with the command line. `main.rs` forwards only a
//! `NodeCommand` too, and only when [`open`] finds a running node holding the directory.
//!
//! One JSON line each way: `{"args": [...]}` in, `{"out": base64, "code": n, "error": text}`
//! out. The socket file is only reachable by the directory's owner (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;
use data_encoding::BASE64;
use hearth_core::Node;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::node_command::{Globals, NodeCommand};
use crate::output::CAPTURE;

pub const SOCKET: &str = "hearth.sock";
/// A forwarded command line is small; anything bigger is refused.
const MAX_REQUEST: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
struct Request {
    args: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Reply {
    out: String,
    code: i32,
    error: Option<String>,
}

/// A forwarded command line: the global options and a command for the open node, nothing else.
#[derive(Parser)]
#[command(name = "hearth")]
pub struct Forwarded {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: NodeCommand,
}

/// Parses a forwarded command line (without the program name). A command that needs no open
/// node, or owns its process, is not a `NodeCommand` and is refused with a sentence saying so.
pub fn parse(args: Vec<String>) -> Result<Forwarded, String> {
    Forwarded::try_parse_from(std::iter::once("hearth".to_string()).chain(args)).map_err(
        |e| match (e.kind(), e.get(ContextKind::InvalidSubcommand)) {
            (ErrorKind::InvalidSubcommand, Some(ContextValue::String(name))) => format!(
                "`hearth {name}` cannot be forwarded to the node running on this data directory; \
                 only commands that use an open node can"
            ),
            _ => e.to_string(),
        },
    )
}

pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// Who holds a data directory once this process has tried to open it.
pub enum Holder {
    /// This process: the node is open here.
    This(Node),
    /// A running `hearth run`, which executes forwarded commands on its control socket.
    Running,
}

/// Opens the node on `dir`, unless a running node holds the directory and serves its socket.
pub async fn open(dir: &Path) -> Result<Holder> {
    match Node::open(dir).await {
        Ok(node) => Ok(Holder::This(node)),
        Err(hearth_core::Error::InUse(_)) if socket_path(dir).exists() => Ok(Holder::Running),
        Err(e) => Err(e.into()),
    }
}

/// Serves forwarded commands until the node stops.
pub async fn serve(node: Node, dir: &Path) -> Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(dir);
    // We hold the data directory's lock, so a socket file left here is stale.
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let node = node.clone();
            tokio::spawn(async move {
                let _ = handle(node, stream).await;
            });
        }
    }))
}

async fn handle(node: Node, stream: UnixStream) -> Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    BufReader::new(r.take(MAX_REQUEST as u64))
        .read_line(&mut line)
        .await?;
    let req: Request = serde_json::from_str(&line)?;
    let reply = match parse(req.args) {
        Err(error) => Reply {
            out: String::new(),
            code: 2,
            error: Some(error),
        },
        Ok(forwarded) => {
            let json = forwarded.globals.json;
            let (res, out) = CAPTURE
                .scope(std::cell::RefCell::new(Vec::new()), async {
                    let res = crate::commands::execute(&node, json, forwarded.command).await;
                    (res, CAPTURE.with(|c| c.take()))
                })
                .await;
            match res {
                Ok(()) => Reply {
                    out: BASE64.encode(&out),
                    code: 0,
                    error: None,
                },
                Err(e) => {
                    let msg = match e.downcast_ref::<hearth_core::Error>() {
                        Some(he) => he.to_string(),
                        None => format!("{e:#}"),
                    };
                    Reply {
                        out: BASE64.encode(&out),
                        code: 1,
                        error: Some(msg),
                    }
                }
            }
        }
    };
    let mut bytes = serde_json::to_vec(&reply)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    Ok(())
}

/// Runs this invocation's command in the node already running on `dir`.
pub async fn forward(dir: &Path) -> Result<()> {
    let path = socket_path(dir);
    let stream = UnixStream::connect(&path).await.with_context(|| {
        "the data directory is in use by another Hearth process that does not accept commands"
    })?;
    let (r, mut w) = stream.into_split();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut req = serde_json::to_vec(&Request { args })?;
    req.push(b'\n');
    w.write_all(&req).await?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    let reply: Reply = serde_json::from_str(&line).context("the running node gave no answer")?;
    crate::output::bytes(&BASE64.decode(reply.out.as_bytes()).unwrap_or_default());
    match reply.error {
        Some(e) => anyhow::bail!(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands_that_own_their_process_are_refused() {
        for name in ["run", "relay", "bench", "bench-net", "bench-relay"] {
            let Err(e) = parse(args(&[name])) else {
                panic!("`{name}` was accepted for forwarding")
            };
            assert!(
                e.contains(&format!("`hearth {name}` cannot be forwarded")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_send_is_forwarded_with_its_options() {
        let f = parse(args(&["--json", "send", "--to", "Mom", "hi"])).unwrap();
        assert!(f.globals.json);
        assert!(matches!(
            f.command,
            NodeCommand::Send { to: Some(to), text: Some(text), .. } if to == "Mom" && text == "hi"
        ));
    }

    #[test]
    fn a_bad_node_command_gets_clap_s_own_message() {
        let e = parse(args(&["send", "--to"])).err().unwrap();
        assert!(e.contains("a value is required for '--to <TO>'"), "{e}");
    }
}
