//! Printing: text for people, JSON lines for scripts.

use serde::Serialize;

pub fn line<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        println!("{}", text());
    }
}

pub fn error(json: bool, e: &anyhow::Error) {
    let (kind, msg) = match e.downcast_ref::<hearth_core::Error>() {
        Some(he) => (he.kind(), he.to_string()),
        None => ("error", format!("{e:#}")),
    };
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
