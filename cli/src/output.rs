//! Printing: text for people, JSON lines for scripts.

use serde::Serialize;

tokio::task_local! {
    /// Set while a command runs for another process (through `hearth run`'s control socket):
    /// output goes back over the socket instead of this process's stdout.
    pub static CAPTURE: std::cell::RefCell<Vec<u8>>;
}

/// Writes command output: to the capture buffer when serving a forwarded command.
pub fn bytes(b: &[u8]) {
    let captured = CAPTURE
        .try_with(|c| c.borrow_mut().extend_from_slice(b))
        .is_ok();
    if !captured {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b);
        let _ = out.flush();
    }
}

pub fn text(s: &str) {
    bytes(format!("{s}\n").as_bytes());
}

pub fn line<T: Serialize>(json: bool, value: &T, text_of: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string(value) {
            Ok(s) => text(&s),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        text(&text_of());
    }
}

/// The kind and message an error is printed with. A `hearth_core::Error` says its kind; an error
/// the running node reported for a forwarded command keeps the kind and message it was given
/// there, by this same function, so both paths print the same thing.
pub fn describe(e: &anyhow::Error) -> (String, String) {
    if let Some(f) = e.downcast_ref::<crate::control::Failure>() {
        return (f.kind.clone(), f.message.clone());
    }
    match e.downcast_ref::<hearth_core::Error>() {
        Some(he) => (he.kind().into(), he.to_string()),
        None => ("error".into(), format!("{e:#}")),
    }
}

pub fn error(json: bool, e: &anyhow::Error) {
    let (kind, msg) = describe(e);
    if json {
        eprintln!("{}", serde_json::json!({ "error": kind, "message": msg }));
    } else {
        eprintln!("error: {msg}");
    }
}

/// A short id for display; the CLI accepts any unique prefix of 6+ characters.
pub fn short(id: &impl std::fmt::Display) -> String {
    id.to_string().chars().take(12).collect()
}

pub fn time(hlc_ms: u64) -> String {
    let secs = hlc_ms / 1000;
    let (h, m) = ((secs / 3600) % 24, (secs / 60) % 60);
    format!("{h:02}:{m:02} UTC")
}
