//! One Hearth per data directory. Launching Hearth while it already runs on the same data (from
//! the desktop's app menu, a launcher, a terminal) shows, unminimizes and focuses the running
//! one's window, and the new process exits at once with status 0. A second node could not run
//! anyway (the first holds the data directory: the person would only see "data in use"), and on
//! a desktop that shows no tray icons (GNOME without the AppIndicator extension) launching
//! Hearth again is the only way back to a window that was closed to the tray.
//!
//! The guard is keyed on the data directory, not on the app: two family members sharing one
//! computer account each run their own Hearth with their own `HEARTH_DATA_DIR`, and that must
//! keep working; only a second launch on the *same* data turns into "show the window". Keying
//! on the directory (rather than leaving the guard off whenever `HEARTH_DATA_DIR` is set) also
//! protects whoever always starts Hearth with a directory of their own, catches the default
//! directory spelled out as a path, and keeps the guard itself under test in the end-to-end
//! tests, which all give each instance its own directory.
//!
//! tauri-plugin-single-instance holds a D-Bus name on the session bus on Linux; here that name
//! is made from the directory (a hash of its canonical path, under the app's identifier, which
//! a Flatpak sandbox lets the app own). On macOS and Windows the plugin's lock (a socket, a
//! named mutex) is named after the app's identifier alone, so there the guard covers the
//! default data directory only, and instances with their own `HEARTH_DATA_DIR` run side by side
//! unguarded, as before. Without a session bus the plugin lets the app start as it always did.
//!
//! A second launch with `--hidden` (start at login while Hearth already runs) leaves the window
//! as it is.

use std::path::Path;

use tauri::{AppHandle, Wry};

/// Makes this process the one Hearth for `dir`, or, when another already is, hands it this
/// launch (it shows its window) and exits with status 0 before anything else starts. Called
/// first in setup: the data directory is known only there.
pub fn guard(app: &tauri::App, dir: &Path) {
    let Some(plugin) = plugin(app, dir) else {
        return;
    };
    // Fails only when the running instance could not be told; this one then starts as before
    // (and says the data is in use).
    if let Err(e) = app.handle().plugin(plugin) {
        tracing::warn!(error = %e, "no single-instance guard");
    }
}

/// Another launch on the same data: the person wants to see Hearth.
fn on_launch(app: &AppHandle, argv: Vec<String>, _cwd: String) {
    if !crate::autostart::hidden(&argv) {
        crate::show_window(app);
    }
}

#[cfg(target_os = "linux")]
fn plugin(app: &tauri::App, dir: &Path) -> Option<tauri::plugin::TauriPlugin<Wry>> {
    let id = bus_id(&app.config().identifier, &canonical(dir));
    Some(
        tauri_plugin_single_instance::Builder::new()
            .dbus_id(id)
            .callback(on_launch)
            .build(),
    )
}

#[cfg(not(target_os = "linux"))]
fn plugin(_: &tauri::App, _: &Path) -> Option<tauri::plugin::TauriPlugin<Wry>> {
    if std::env::var_os("HEARTH_DATA_DIR").is_some() {
        return None;
    }
    Some(tauri_plugin_single_instance::init(on_launch))
}

/// The directory as every launch names it: created if new (the node would create it next), so
/// that symlinks and `..` resolve the same way the first time as later.
#[cfg(target_os = "linux")]
fn canonical(dir: &Path) -> std::path::PathBuf {
    let _ = std::fs::create_dir_all(dir);
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// The D-Bus name (before the plugin's `.SingleInstance`) that guards one data directory:
/// `<identifier>.data_<16 hex digits>`. A hash, because a path may hold characters (and be
/// longer than) a bus name allows; SHA-256 rather than std's hasher, whose output may change
/// between Rust releases, and with it the name an older running Hearth holds.
#[cfg(target_os = "linux")]
fn bus_id(identifier: &str, dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{identifier}.data_{hex}")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const ID: &str = "org.hearth.desktop";

    /// What the bus accepts as a well-known name: dot-separated elements of `[A-Za-z0-9_-]`,
    /// none empty or starting with a digit, at most 255 bytes.
    fn valid_bus_name(name: &str) -> bool {
        name.len() <= 255
            && name.split('.').count() >= 2
            && name.split('.').all(|e| {
                !e.is_empty()
                    && !e.starts_with(|c: char| c.is_ascii_digit())
                    && e.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
    }

    #[test]
    fn one_directory_one_guard_however_it_is_spelled() {
        let name = format!("hearth-single-instance-{}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let spelled_otherwise = dir.join("..").join(&name);
        let first = bus_id(ID, &canonical(&spelled_otherwise));
        assert_eq!(first, bus_id(ID, &canonical(&dir)));
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn each_directory_has_its_own_guard() {
        let mom = bus_id(ID, Path::new("/home/family/mom"));
        let son = bus_id(ID, Path::new("/home/family/son"));
        assert_ne!(mom, son);
        assert!(mom.starts_with("org.hearth.desktop.data_"));
    }

    #[test]
    fn the_guard_is_a_valid_bus_name_for_any_path() {
        let long = "아주 긴 이름/".repeat(100);
        for path in ["/home/a b/ü", "/0", long.as_str()] {
            let name = format!("{}.SingleInstance", bus_id(ID, Path::new(path)));
            assert!(valid_bus_name(&name), "{name}");
        }
    }
}
