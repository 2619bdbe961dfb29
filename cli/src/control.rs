//! The control socket of a running node. `hearth run` holds the data directory (its lock), so
//! a command that uses the node on the same directory is forwarded over a Unix socket in it and
//! executed by the running node: `hearth send` from another shell goes out at once.
//!
//! Only a [`NodeCommand`] can be forwarded: the socket parses what it receives as one (with the
//! global options) and nothing else, so `run`, `relay` or a benchmark is refused by construction
//! rather than by a list kept in step with the command line. `main.rs` forwards only a
//! `NodeCommand` too, and only when [`open`] finds a running node holding the directory.
//!
//! The command runs in the node's process but for its caller: the request carries the caller's
//! working directory, against which the node resolves the command's relative paths
//! ([`NodeCommand::absolutize`]), and for `send --stdin` the caller's standard input (the node
//! never reads its own). A failure comes back with its kind, so the caller prints what it would
//! have printed running the command itself ([`crate::output::describe`]).
//!
//! One JSON line each way: `{"args": [...], "cwd": path, "stdin": [lines] | null}` in,
//! `{"out": base64, "code": n, "error": {"kind": k, "message": text} | null}` out. The socket
//! file is only reachable by the directory's owner (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;
use data_encoding::BASE64;
use hearth_core::Node;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::commands::Stdin;
use crate::node_command::{Globals, NodeCommand};
use crate::output::CAPTURE;

pub const SOCKET: &str = "hearth.sock";
/// A request line: a command line, and for `send --stdin` the caller's input (a script's burst
/// of messages fits many times over). Anything bigger is refused before it is sent.
const MAX_REQUEST: usize = 16 * 1024 * 1024;

fn too_large() -> anyhow::Error {
    anyhow::anyhow!(
        "the standard input is too large to forward to the node running on this data directory \
         (at most {} MiB); send it in parts",
        MAX_REQUEST / (1024 * 1024)
    )
}

#[derive(Serialize, Deserialize)]
struct Request {
    args: Vec<String>,
    /// The caller's working directory: relative paths in `args` are relative to it.
    cwd: PathBuf,
    /// The caller's standard input, one message per line, when the command reads it.
    stdin: Option<Vec<String>>,
}

impl Request {
    /// The request as one line, or the reason it cannot be forwarded.
    fn encode(&self) -> Result<Vec<u8>> {
        let mut line = serde_json::to_vec(self).context("encoding the forwarded command")?;
        line.push(b'\n');
        if line.len() > MAX_REQUEST {
            return Err(too_large());
        }
        Ok(line)
    }

    /// Reads a request line as [`Request::encode`] makes it (at most `MAX_REQUEST` bytes).
    fn decode(line: &str) -> Result<Request, String> {
        let Some(json) = line.strip_suffix('\n') else {
            return Err(format!(
                "the request is cut short or longer than {MAX_REQUEST} bytes"
            ));
        };
        let req: Request = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if !req.cwd.is_absolute() {
            return Err(format!(
                "the working directory {} is not absolute",
                req.cwd.display()
            ));
        }
        Ok(req)
    }
}

#[derive(Serialize, Deserialize)]
struct Reply {
    out: String,
    code: i32,
    error: Option<Failure>,
}

/// A forwarded command's error, as the running node described it ([`crate::output::describe`]):
/// the caller prints it as if the command had failed in its own process.
#[derive(Debug, Serialize, Deserialize)]
pub struct Failure {
    pub kind: String,
    pub message: String,
}

impl Failure {
    fn of(e: &anyhow::Error) -> Failure {
        let (kind, message) = crate::output::describe(e);
        Failure { kind, message }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

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
    let refused = |message| Reply {
        out: String::new(),
        code: 2,
        error: Some(Failure {
            kind: "error".into(),
            message,
        }),
    };
    let reply = match Request::decode(&line) {
        Err(error) => refused(error),
        Ok(req) => match parse(req.args) {
            Err(error) => refused(error),
            Ok(forwarded) => {
                let json = forwarded.globals.json;
                let command = forwarded.command.absolutize(&req.cwd);
                let input = Stdin::Forwarded(req.stdin.unwrap_or_default());
                let (res, out) = CAPTURE
                    .scope(std::cell::RefCell::new(Vec::new()), async {
                        let res = crate::commands::execute(&node, json, command, input).await;
                        (res, CAPTURE.with(|c| c.take()))
                    })
                    .await;
                Reply {
                    out: BASE64.encode(&out),
                    code: if res.is_ok() { 0 } else { 1 },
                    error: res.err().map(|e| Failure::of(&e)),
                }
            }
        },
    };
    let mut bytes = serde_json::to_vec(&reply)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    Ok(())
}

/// Runs this invocation's command (`command`, as parsed here) in the node already running on
/// `dir`, for this process: with its working directory, and its standard input if the command
/// reads it.
pub async fn forward(dir: &Path, command: &NodeCommand) -> Result<()> {
    let stdin = if command.reads_stdin() {
        Some(tokio::task::spawn_blocking(read_stdin).await??)
    } else {
        None
    };
    let req = Request {
        args: std::env::args().skip(1).collect(),
        cwd: std::env::current_dir().context("finding the working directory")?,
        stdin,
    }
    .encode()?;
    let path = socket_path(dir);
    let stream = UnixStream::connect(&path).await.with_context(|| {
        "the data directory is in use by another Hearth process that does not accept commands"
    })?;
    let (r, mut w) = stream.into_split();
    w.write_all(&req).await?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    let reply: Reply = serde_json::from_str(&line).context("the running node gave no answer")?;
    crate::output::bytes(&BASE64.decode(reply.out.as_bytes()).unwrap_or_default());
    match reply.error {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}

/// This process's standard input, one message per line as `send --stdin` reads it, refused
/// once it could not be forwarded.
fn read_stdin() -> Result<Vec<String>> {
    let mut size = 0;
    let mut lines = Vec::new();
    for l in crate::commands::stdin_lines() {
        size += l.len() + 1;
        if size > MAX_REQUEST {
            return Err(too_large());
        }
        lines.push(l);
    }
    Ok(lines)
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
    fn a_request_carries_the_callers_directory_and_input() {
        let req = Request {
            args: args(&["send", "--to", "Mom", "--stdin"]),
            cwd: "/home/mom".into(),
            stdin: Some(args(&["first", "", "a \"quoted\" line"])),
        };
        let line = String::from_utf8(req.encode().unwrap()).unwrap();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let back = Request::decode(&line).unwrap();
        assert_eq!(back.args, req.args);
        assert_eq!(back.cwd, req.cwd);
        assert_eq!(back.stdin, req.stdin);
    }

    #[test]
    fn a_request_too_large_to_forward_is_refused() {
        let req = Request {
            args: args(&["send", "--to", "Mom", "--stdin"]),
            cwd: "/home/mom".into(),
            stdin: Some(vec!["x".repeat(MAX_REQUEST)]),
        };
        let e = req.encode().unwrap_err();
        assert_eq!(e.to_string(), too_large().to_string());
        assert!(e.to_string().contains("at most 16 MiB"), "{e}");
        // What the socket reads of a longer line: the first MAX_REQUEST bytes, no newline.
        let e = Request::decode(r#"{"args": ["#).err().unwrap();
        assert!(e.contains("cut short or longer than"), "{e}");
    }

    #[test]
    fn a_request_from_a_relative_directory_is_refused() {
        let e = Request::decode("{\"args\":[],\"cwd\":\"here\",\"stdin\":null}\n");
        assert!(e.err().unwrap().contains("not absolute"));
    }

    /// The caller prints a forwarded failure exactly as it would print the error itself.
    #[test]
    fn a_failure_comes_back_as_the_error_it_was() {
        let errors = [
            anyhow::Error::from(hearth_core::Error::NotFound(
                "no conversation \"Bob\"".into(),
            )),
            anyhow::Error::from(hearth_core::Error::NoIdentity).context("opening"),
            anyhow::anyhow!("disk full").context("writing chat.json"),
        ];
        for e in errors {
            let reply = Reply {
                out: String::new(),
                code: 1,
                error: Some(Failure::of(&e)),
            };
            let wire = serde_json::to_string(&reply).unwrap();
            let back: Reply = serde_json::from_str(&wire).unwrap();
            let forwarded = anyhow::Error::from(back.error.unwrap());
            assert_eq!(
                crate::output::describe(&forwarded),
                crate::output::describe(&e)
            );
        }
        let not_found = hearth_core::Error::NotFound("x".into());
        assert_eq!(Failure::of(&not_found.into()).kind, "not_found");
    }

    #[test]
    fn a_bad_node_command_gets_clap_s_own_message() {
        let e = parse(args(&["send", "--to"])).err().unwrap();
        assert!(e.contains("a value is required for '--to <TO>'"), "{e}");
    }
}
