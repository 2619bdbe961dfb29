//! The icon in the system tray that keeps Hearth running with its window closed: a family
//! messenger that stops when its window goes would miss the messages it exists to deliver, and
//! would show no notification for them. Closing the window hides it; the tray's menu opens it
//! again or quits (which stops the node cleanly, as every other way out does).
//!
//! An icon that cannot be made is no error: the app runs without one, and closing the window
//! quits as before, since nothing could bring the window back. On Linux the icon goes through
//! libayatana-appindicator, which is loaded at run time and panics when it is missing: that
//! panic is contained here. Where the library is there but nothing shows its icons (Xvfb, a
//! bare window manager, GNOME without the AppIndicator extension) the icon is still made, and
//! the tray's menu works for whatever panel comes (one may start after Hearth at login; the
//! end-to-end tests bring one on their own session bus). Until one does, launching Hearth
//! again is the way back to its window (`single_instance`).

pub use imp::{create, keeps_running, relabel};

#[cfg(desktop)]
mod imp {
    use tauri::menu::{Menu, MenuItem};
    use tauri::tray::TrayIconBuilder;
    use tauri::{AppHandle, Manager, Wry};

    const OPEN: &str = "open";
    const QUIT: &str = "quit";

    /// The tray's menu items, kept to speak the UI's language once it is known.
    pub struct Tray {
        open: MenuItem<Wry>,
        quit: MenuItem<Wry>,
    }

    /// The menu's words (Korean until the UI says otherwise, like notifications).
    fn labels(korean: bool) -> (&'static str, &'static str) {
        if korean {
            ("Hearth 열기", "끝내기")
        } else {
            ("Open Hearth", "Quit")
        }
    }

    /// Puts the icon in the tray; without a tray (or its library) the app runs without one.
    pub fn create(app: &tauri::App) {
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(app)));
        match built {
            Ok(Ok(tray)) => {
                app.manage(tray);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "no tray icon; closing the window quits"),
            Err(_) => tracing::warn!("no tray icon (no tray library); closing the window quits"),
        }
    }

    fn build(app: &tauri::App) -> tauri::Result<Tray> {
        let korean = app.state::<crate::forward::Language>().korean();
        let (open_text, quit_text) = labels(korean);
        let open = MenuItem::with_id(app, OPEN, open_text, true, None::<&str>)?;
        let quit = MenuItem::with_id(app, QUIT, quit_text, true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &quit])?;
        let mut icon = TrayIconBuilder::with_id("main")
            .tooltip("Hearth")
            .menu(&menu)
            .on_menu_event(|app, event| match event.id.as_ref() {
                OPEN => crate::show_window(app),
                // Exiting runs `RunEvent::Exit`, which stops the node before the process ends.
                QUIT => app.exit(0),
                _ => {}
            });
        if let Some(image) = app.default_window_icon() {
            icon = icon.icon(image.clone());
        }
        icon.build(app)?;
        Ok(Tray { open, quit })
    }

    /// Whether closing the window should only hide it: there is a tray to bring it back from.
    pub fn keeps_running(app: &AppHandle) -> bool {
        app.try_state::<Tray>().is_some()
    }

    /// The menu in the UI's language.
    pub fn relabel(app: &AppHandle, korean: bool) {
        if let Some(tray) = app.try_state::<Tray>() {
            let (open_text, quit_text) = labels(korean);
            let _ = tray.open.set_text(open_text);
            let _ = tray.quit.set_text(quit_text);
        }
    }
}

/// Phones and tablets keep apps running their own way: no tray, and nothing to do here.
#[cfg(mobile)]
mod imp {
    use tauri::AppHandle;

    pub fn create(_: &tauri::App) {}

    pub fn keeps_running(_: &AppHandle) -> bool {
        false
    }

    pub fn relabel(_: &AppHandle, _: bool) {}
}
