//! The error that crosses into the UI: a kind the UI translates and a sentence it can show.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Error {
    pub kind: String,
    pub message: String,
}

impl From<hearth_core::Error> for Error {
    fn from(e: hearth_core::Error) -> Self {
        Error {
            kind: e.kind().to_string(),
            message: e.to_string(),
        }
    }
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error {
            kind: "invalid".into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
