//! The error that crosses into the UI: a kind the UI translates and a sentence it can show.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_error_reaches_the_ui_as_kind_and_sentence() {
        let e: Error =
            hearth_core::Error::Invalid("that code is not a Hearth invite".into()).into();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "invalid");
        assert!(v["message"]
            .as_str()
            .unwrap()
            .contains("not a Hearth invite"));
        let e: Error = hearth_core::Error::NoIdentity.into();
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], "no_identity");
    }
}
