//! The one error type every public `Node` call returns.
//!
//! Each variant is something a person or a script can act on; `Display` is a sentence for a
//! person. Module-level errors (`envelope::Error`, `invite::Error`, ...) convert into it so the
//! kind survives to the UI and the CLI (see [`Error::kind`]).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the data directory {0} is in use by another Hearth process; close it first")]
    InUse(PathBuf),
    #[error("no identity yet in this data directory; create one first (hearth init --name ...)")]
    NoIdentity,
    #[error("an identity already exists in this data directory")]
    IdentityExists,
    #[error("opening database at {path}: {cause}")]
    OpenDatabase { path: PathBuf, cause: String },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Invite(#[from] crate::invite::Error),
    #[error(transparent)]
    Envelope(#[from] crate::envelope::Error),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::Error),
    #[error(transparent)]
    Doc(#[from] crate::doc::Error),
    #[error(transparent)]
    Bundle(#[from] crate::sync::bundle::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("the node has shut down")]
    Shutdown,
    #[error("could not save: {0}")]
    Storage(String),
    #[error("the database is damaged: {0}")]
    Corrupt(String),
}

impl Error {
    /// A stable, machine-readable kind for the UI and `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InUse(_) => "in_use",
            Error::NoIdentity => "no_identity",
            Error::IdentityExists => "identity_exists",
            Error::OpenDatabase { .. } | Error::Database(_) | Error::Io(_) => "storage",
            Error::Invite(_) => "invite",
            Error::Envelope(_) => "envelope",
            Error::Crypto(_) => "crypto",
            Error::Doc(_) => "document",
            Error::Bundle(_) => "bundle",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::NotAllowed(_) => "not_allowed",
            Error::Shutdown => "shutdown",
            Error::Corrupt(_) => "corrupt",
            Error::Storage(_) => "storage",
        }
    }
}
