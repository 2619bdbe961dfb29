//! Starting Hearth when the person logs in, so messages arrive (and notify) without anyone
//! remembering to open it. On by default: the first run turns it on and writes down that it
//! did (`start-at-login.json` in the app's own config directory, apart from the node's data);
//! after that only the person changes it, in Settings or in the desktop's own list of startup
//! programs, and the switch in Settings shows the entry as the system has it.
//!
//! The entry itself is tauri-plugin-autostart's: an XDG autostart `.desktop` file on Linux
//! (under `~/.config/autostart`), a login item on macOS, the Run key on Windows. It starts
//! Hearth with `--hidden`: logging in brings Hearth up in the tray, not a window in the
//! person's face (without a tray to open it from, the window shows all the same). Each start
//! writes an existing entry again, so one from an earlier version (without `--hidden`) or for
//! a program since moved says what this one would; an entry the person removed stays removed.

#[cfg(desktop)]
pub use imp::plugin;
pub use imp::{at_start, enabled, set};

/// The argument the start-at-login entry gives: start in the tray, without a window.
pub const HIDDEN: &str = "--hidden";

/// Whether a command line (the program first) asks to start hidden.
pub fn hidden<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> bool {
    args.iter().skip(1).any(|a| a.as_ref() == HIDDEN)
}

#[cfg(desktop)]
mod imp {
    use std::path::PathBuf;

    use serde::{Deserialize, Serialize};
    use tauri::{AppHandle, Manager};
    use tauri_plugin_autostart::ManagerExt;

    use crate::error::{Error, Result};

    const CHOICE_FILE: &str = "start-at-login.json";

    /// The name of the autostart entry (`Hearth.desktop` on Linux).
    const ENTRY_NAME: &str = "Hearth";

    pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
        tauri_plugin_autostart::Builder::new()
            .app_name(ENTRY_NAME)
            .arg(super::HIDDEN)
            .build()
    }

    #[derive(Serialize, Deserialize)]
    struct Choice {
        start_at_login: bool,
    }

    fn choice_path(app: &AppHandle) -> Option<PathBuf> {
        app.path()
            .app_config_dir()
            .ok()
            .map(|d| d.join(CHOICE_FILE))
    }

    /// What the person chose, or None before the first run.
    fn remembered(app: &AppHandle) -> Option<bool> {
        let text = std::fs::read_to_string(choice_path(app)?).ok()?;
        serde_json::from_str::<Choice>(&text)
            .ok()
            .map(|c| c.start_at_login)
    }

    fn remember(app: &AppHandle, on: bool) -> Result<()> {
        let path = choice_path(app).ok_or_else(|| storage("no config directory"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| storage(&e.to_string()))?;
        }
        let text = serde_json::to_string(&Choice { start_at_login: on })
            .map_err(|e| storage(&e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| storage(&format!("{}: {e}", path.display())))
    }

    fn storage(cause: &str) -> Error {
        Error {
            kind: "storage".into(),
            message: format!("remembering whether to start at login: {cause}"),
        }
    }

    /// The first run turns starting at login on; later runs leave the person's choice alone,
    /// only writing an existing entry again as this version writes it. Failing here only means
    /// no entry (or an old one): the app runs all the same.
    pub fn at_start(app: &AppHandle) {
        let done = match remembered(app) {
            None => set(app, true),
            Some(_) if enabled(app).unwrap_or(false) => set_entry(app, true),
            Some(_) => Ok(()),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e.message, "start at login not set up");
        }
    }

    /// Whether Hearth starts at login: the entry as the system has it.
    pub fn enabled(app: &AppHandle) -> Result<bool> {
        app.autolaunch().is_enabled().map_err(plugin_error)
    }

    /// Turns starting at login on or off, and remembers the choice.
    pub fn set(app: &AppHandle, on: bool) -> Result<()> {
        set_entry(app, on)?;
        remember(app, on)
    }

    fn set_entry(app: &AppHandle, on: bool) -> Result<()> {
        let entry = app.autolaunch();
        let done = if on { entry.enable() } else { entry.disable() };
        done.map_err(plugin_error)
    }

    fn plugin_error(e: tauri_plugin_autostart::Error) -> Error {
        Error {
            kind: "storage".into(),
            message: format!("the start-at-login entry: {e}"),
        }
    }
}

/// Phones and tablets have no start-at-login entry: nothing to turn on, and the switch is off.
#[cfg(mobile)]
mod imp {
    use crate::error::{Error, Result};
    use tauri::AppHandle;

    pub fn at_start(_: &AppHandle) {}

    pub fn enabled(_: &AppHandle) -> Result<bool> {
        Ok(false)
    }

    pub fn set(_: &AppHandle, _: bool) -> Result<()> {
        Err(Error::invalid("this device has no start at login"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_argument_asks_to_start_hidden() {
        assert!(hidden(&["/usr/bin/hearth-app", "--hidden"]));
        assert!(!hidden(&["/usr/bin/hearth-app"]));
        assert!(
            !hidden(&["--hidden"]),
            "the program's own path is no argument"
        );
        assert!(!hidden(&["/usr/bin/hearth-app", "--hidden=no", "hidden"]));
    }
}
