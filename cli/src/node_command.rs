//! The commands that run against an open node: everything but the ones that own a process
//! (`run`, `relay`, the benchmarks). They are one type so that the two ways a command reaches a
//! node take the same path: `main.rs` flattens [`NodeCommand`] into the top-level command line
//! and runs it on the node it opens, and the control socket of a running `hearth run` parses a
//! forwarded command line as [`NodeCommand`] only, so what can be forwarded is decided here, by
//! construction. [`crate::commands::execute`] executes one either way.
//!
//! A forwarded command runs in another process, with another working directory and standard
//! input: [`NodeCommand::absolutize`] is where its relative paths are resolved against the
//! caller's directory, and [`NodeCommand::reads_stdin`] says when the caller's input goes along.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

/// The options any command line takes, before or after the command. A forwarded command line
/// carries them too; the running node ignores `--data-dir` (it is the directory it holds).
#[derive(Args)]
pub struct Globals {
    /// Data directory of this device.
    #[arg(long, env = "HEARTH_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON lines instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum NodeCommand {
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
        #[arg(long, conflicts_with = "file")]
        stdin: bool,
        /// Send a photo (JPEG or PNG: downscaled, location and EXIF removed) or any file; the
        /// text, if given, is its caption.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        text: Option<String>,
    },
    /// Photos, voice messages and files in messages.
    Blob {
        #[command(subcommand)]
        action: BlobAction,
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
    // `hearth --help` has always listed these three after the process commands (run, relay,
    // benches), which `main.rs` declares after this enum; 999 is where clap lists `help`.
    /// Show this device, the network, and how each contact is reached.
    #[command(display_order = 996)]
    Status,
    /// "I'm safe": a check-in to every conversation.
    #[command(display_order = 997)]
    Checkin,
    /// The family board: who is reachable, what waits for them, their latest check-in.
    #[command(display_order = 998)]
    Board,
}

impl NodeCommand {
    /// Resolves every relative path in the command against `base` (the caller's working
    /// directory), so that a command executed by a running node in another directory reads and
    /// writes the files its caller named. Absolute paths are kept as they are.
    pub fn absolutize(self, base: &Path) -> NodeCommand {
        let at = |p: PathBuf| base.join(p);
        match self {
            NodeCommand::Export { chat, format, out } => NodeCommand::Export {
                chat,
                format,
                out: out.map(at),
            },
            NodeCommand::Bundle { action } => NodeCommand::Bundle {
                action: match action {
                    BundleAction::Export { out, since } => BundleAction::Export {
                        out: at(out),
                        since: since.map(at),
                    },
                    BundleAction::Import { file } => BundleAction::Import { file: at(file) },
                    BundleAction::State { out } => BundleAction::State { out: at(out) },
                },
            },
            NodeCommand::Send {
                chat,
                to,
                stdin,
                file,
                text,
            } => NodeCommand::Send {
                chat,
                to,
                stdin,
                file: file.map(at),
                text,
            },
            NodeCommand::Blob {
                action: BlobAction::Get { id, out, timeout },
            } => NodeCommand::Blob {
                action: BlobAction::Get {
                    id,
                    out: at(out),
                    timeout,
                },
            },
            // No paths in these. Listed one by one so that a new command has to be placed here.
            NodeCommand::Init { .. }
            | NodeCommand::Whoami
            | NodeCommand::Invite { .. }
            | NodeCommand::Accept { .. }
            | NodeCommand::Contacts
            | NodeCommand::Contact { .. }
            | NodeCommand::Chats
            | NodeCommand::Group { .. }
            | NodeCommand::Reply { .. }
            | NodeCommand::Edit { .. }
            | NodeCommand::Delete { .. }
            | NodeCommand::React { .. }
            | NodeCommand::Read { .. }
            | NodeCommand::Messages { .. }
            | NodeCommand::Search { .. }
            | NodeCommand::Check
            | NodeCommand::Status
            | NodeCommand::Checkin
            | NodeCommand::Board => self,
        }
    }

    /// Whether the command reads the caller's standard input (`send --stdin`).
    pub fn reads_stdin(&self) -> bool {
        matches!(self, NodeCommand::Send { stdin: true, .. })
    }
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
pub enum BlobAction {
    /// Write an attachment to a file, fetching it first if it is not all here (from any
    /// connected member: run this against a running `hearth run`).
    Get {
        /// The attachment's id (`"blob"` in `hearth messages --json`), or 6+ characters of it.
        id: String,
        #[arg(long)]
        out: PathBuf,
        /// How long to wait for it to arrive, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Line {
        #[command(subcommand)]
        command: NodeCommand,
    }

    fn resolved(args: &[&str]) -> NodeCommand {
        let line = Line::try_parse_from(std::iter::once(&"hearth").chain(args)).unwrap();
        line.command.absolutize(Path::new("/home/mom/notes"))
    }

    #[test]
    fn relative_paths_are_resolved_against_the_callers_directory() {
        assert!(matches!(
            resolved(&["export", "--chat", "Mom", "--out", "chat.json"]),
            NodeCommand::Export { out: Some(p), .. } if p == Path::new("/home/mom/notes/chat.json")
        ));
        assert!(matches!(
            resolved(&["bundle", "export", "--out", "b/out.bundle", "--since", "../state.json"]),
            NodeCommand::Bundle { action: BundleAction::Export { out, since: Some(since) } }
                if out == Path::new("/home/mom/notes/b/out.bundle")
                    && since == Path::new("/home/mom/notes/../state.json")
        ));
        assert!(matches!(
            resolved(&["bundle", "import", "in.bundle"]),
            NodeCommand::Bundle { action: BundleAction::Import { file } }
                if file == Path::new("/home/mom/notes/in.bundle")
        ));
        assert!(matches!(
            resolved(&["bundle", "state", "--out", "state.json"]),
            NodeCommand::Bundle { action: BundleAction::State { out } }
                if out == Path::new("/home/mom/notes/state.json")
        ));
    }

    #[test]
    fn absolute_paths_and_other_arguments_are_kept() {
        assert!(matches!(
            resolved(&["bundle", "export", "--out", "/tmp/out.bundle"]),
            NodeCommand::Bundle { action: BundleAction::Export { out, since: None } }
                if out == Path::new("/tmp/out.bundle")
        ));
        assert!(matches!(
            resolved(&["export", "--chat", "Mom"]),
            NodeCommand::Export { out: None, .. }
        ));
        assert!(matches!(
            resolved(&["send", "--to", "chat.json", "notes"]),
            NodeCommand::Send { to: Some(to), text: Some(text), .. } if to == "chat.json" && text == "notes"
        ));
    }

    #[test]
    fn only_send_with_stdin_reads_the_callers_input() {
        let line = |args: &[&str]| {
            Line::try_parse_from(std::iter::once(&"hearth").chain(args))
                .unwrap()
                .command
        };
        assert!(line(&["send", "--to", "Mom", "--stdin"]).reads_stdin());
        assert!(!line(&["send", "--to", "Mom", "hi"]).reads_stdin());
        assert!(!line(&["chats"]).reads_stdin());
    }
}
