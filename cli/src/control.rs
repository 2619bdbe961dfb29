//! The control socket of a running node. `hearth run` holds the data directory (its lock), so
//! any other `hearth` command on the same directory is forwarded over a Unix socket in it and
//! executed by the running node: `hearth send` from another shell goes out at once.
//!
//! One JSON line each way: `{"args": [...]}` in, `{"out": base64, "code": n, "error": text}`
//! out. The socket file is only reachable by the directory's owner (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use data_encoding::BASE64;
use hearth_core::Node;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::output::CAPTURE;
use crate::{Cli, Command};

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

pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
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
    let reply = match Cli::try_parse_from(std::iter::once("hearth".to_string()).chain(req.args)) {
        Err(e) => Reply {
            out: String::new(),
            code: 2,
            error: Some(e.to_string()),
        },
        Ok(cli)
            if matches!(
                cli.command,
                Command::Run(_) | Command::Bench(_) | Command::BenchNet(_)
            ) =>
        {
            Reply {
                out: String::new(),
                code: 2,
                error: Some("a node is already running on this data directory".into()),
            }
        }
        Ok(cli) => {
            let json = cli.json;
            let (res, out) = CAPTURE
                .scope(std::cell::RefCell::new(Vec::new()), async {
                    let res = crate::commands::dispatch(&node, json, cli.command).await;
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
