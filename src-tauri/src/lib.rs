//! hearth-app: the Tauri 2 shell over `hearth_core::Node`, for desktop and mobile.
//!
//! It only wires things together: it opens the node in the OS data directory (or
//! `HEARTH_DATA_DIR`), exposes thin commands (`commands`), forwards node events to the UI
//! (`forward`), keeps running behind a tray icon when the window is closed (`tray`), starts at
//! login if the person wants (`autostart`, in the tray when started with `--hidden`), runs once
//! per data directory (`single_instance`: launching it again shows the running one's window),
//! and shuts the node down cleanly when the app exits, so nothing acknowledged is lost.
//! Everything with logic lives in hearth-core.
//!
//! For tests and for two instances on one machine: `HEARTH_LISTEN` (comma-separated
//! multiaddrs) replaces the listen addresses, `HEARTH_MDNS=0` turns LAN discovery off,
//! `HEARTH_PUBLIC_NETWORK=0` keeps this run off the public network, `HEARTH_NOSTR=0` off the
//! public mailboxes, and `HEARTH_NOSTR_RELAYS` (comma-separated `ws://…` URLs) replaces the
//! mailbox relays for this run while they are turned on, as `hearth run --nostr-relay` does.

mod attachments;
mod autostart;
mod commands;
mod error;
mod forward;
mod microphone;
#[cfg(desktop)]
mod single_instance;
mod tray;

use std::path::PathBuf;

use hearth_core::Node;
use tauri::{Manager, RunEvent};

/// The node, or why it could not be opened (another Hearth window holds the data, a damaged
/// database): the window still opens and every command answers with that error, which the
/// UI shows, instead of the app vanishing. Asking for the profile again (the UI's Retry)
/// tries to open it again, so closing the other window is enough.
pub(crate) struct Slot {
    dir: Option<PathBuf>,
    state: std::sync::Mutex<std::result::Result<Node, error::Error>>,
}

impl Slot {
    pub(crate) fn node(&self) -> error::Result<Node> {
        match self.state.lock() {
            Ok(s) => s.clone(),
            Err(_) => Err(error::Error::invalid(
                "the app's state is damaged; restart Hearth",
            )),
        }
    }

    /// The node, opening it again first if it could not be opened before.
    pub(crate) async fn reopen(&self, app: &tauri::AppHandle) -> error::Result<Node> {
        if let Ok(node) = self.node() {
            return Ok(node);
        }
        let Some(dir) = &self.dir else {
            return self.node();
        };
        let node = open_node(dir).await?;
        let mut state = self
            .state
            .lock()
            .map_err(|_| error::Error::invalid("the app's state is damaged; restart Hearth"))?;
        if let Ok(other) = &*state {
            // Opened meanwhile by another call: keep that one.
            return Ok(other.clone());
        }
        forward::spawn(app.clone(), node.clone());
        *state = Ok(node.clone());
        Ok(node)
    }
}

pub(crate) async fn start_network(node: &Node) -> hearth_core::Result<()> {
    let mut cfg = node.network_config().await?;
    if let Ok(listen) = std::env::var("HEARTH_LISTEN") {
        cfg.listen = listen
            .split(',')
            .map(|a| {
                a.trim().parse().map_err(|_| {
                    hearth_core::Error::Invalid(format!("HEARTH_LISTEN: not an address: {a}"))
                })
            })
            .collect::<hearth_core::Result<_>>()?;
    }
    // Choices for this run only (tests give loopback relays and stay off the public network):
    // they hold across network restarts and are never saved.
    let run_relays: Vec<String> = std::env::var("HEARTH_NOSTR_RELAYS")
        .map(|r| r.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    cfg.run = hearth_core::net::RunChoices {
        no_public_network: std::env::var("HEARTH_PUBLIC_NETWORK").is_ok_and(|v| v == "0"),
        no_nostr: std::env::var("HEARTH_NOSTR").is_ok_and(|v| v == "0"),
        nostr_relays: hearth_core::nostr::check_relays(&run_relays)?,
    };
    cfg.apply_run();
    if std::env::var("HEARTH_MDNS").is_ok_and(|v| v == "0") {
        cfg.mdns = false;
    }
    node.start_network(cfg).await
}

fn data_dir(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(d) = std::env::var_os("HEARTH_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    Ok(app.path().app_data_dir()?)
}

/// Opens the node; a node with an identity goes online at once. If networking cannot start
/// (no usable address), the node still works offline and the family syncs when it can.
async fn open_node(dir: &std::path::Path) -> error::Result<Node> {
    let node = Node::open(dir).await.map_err(|e| error::Error {
        kind: e.kind().into(),
        message: format!("opening Hearth's data at {}: {e}", dir.display()),
    })?;
    if node.profile().await.is_ok() {
        if let Err(e) = start_network(&node).await {
            tracing::warn!(error = %e, "network did not start; working offline");
        }
    }
    Ok(node)
}

/// The main window. Ctrl+plus/minus zoom the whole UI (large text for a grandparent), and an
/// instance with its own `HEARTH_DATA_DIR` keeps its own webview storage (language, theme)
/// there, so two instances on one machine do not share them. A hidden window still loads the
/// UI, so it is ready when the tray (or another launch) shows it.
fn open_window(app: &tauri::App, dir: Option<&std::path::Path>, shown: bool) -> tauri::Result<()> {
    let mut w = tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::default())
        .title("Hearth")
        .inner_size(1000.0, 720.0)
        .min_inner_size(360.0, 480.0)
        .zoom_hotkeys_enabled(true)
        // Files dropped on the window go to the page (the conversation takes photos and
        // files by drag and drop), not to the shell.
        .disable_drag_drop_handler()
        .visible(shown);
    if let (Some(dir), true) = (dir, std::env::var_os("HEARTH_DATA_DIR").is_some()) {
        w = w.data_directory(dir.join("webview"));
    }
    let window = w.build()?;
    microphone::allow(&window);
    Ok(())
}

/// Shows the main window, in front: from the tray's menu, or when Hearth is launched again.
#[cfg(desktop)]
pub(crate) fn show_window(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    // `try_init`: a mobile activity may enter `run` again in the same process.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let builder = tauri::Builder::default().plugin(tauri_plugin_notification::init());
    #[cfg(desktop)]
    let builder = builder.plugin(autostart::plugin());
    let app = builder
        .manage(forward::Language::default())
        .setup(|app| {
            // Nothing here may fail: a failed setup would end the app without a word.
            let dir = data_dir(app);
            // First: a launch on data another Hearth holds only shows that one's window, and
            // this process ends here.
            #[cfg(desktop)]
            if let Ok(dir) = &dir {
                single_instance::guard(app, dir);
            }
            let (dir, opened) = match dir {
                Ok(dir) => {
                    let opened = tauri::async_runtime::block_on(open_node(&dir));
                    (Some(dir), opened)
                }
                Err(e) => (
                    None,
                    Err(error::Error {
                        kind: "storage".into(),
                        message: format!("no place to keep Hearth's data: {e}"),
                    }),
                ),
            };
            if let Ok(node) = &opened {
                forward::spawn(app.handle().clone(), node.clone());
            }
            tray::create(app);
            // Started at login: in the tray, unless there is no tray to open it from.
            let hidden = autostart::hidden(&std::env::args_os().collect::<Vec<_>>())
                && tray::keeps_running(app.handle());
            if let Err(e) = open_window(app, dir.as_deref(), !hidden) {
                eprintln!("Hearth could not open its window: {e}");
                std::process::exit(1);
            }
            stop_on_signal(app.handle().clone());
            autostart::at_start(app.handle());
            app.manage(Slot {
                dir,
                state: std::sync::Mutex::new(opened),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::profile,
            commands::create_profile,
            commands::set_name,
            commands::chats,
            commands::messages,
            commands::send_message,
            commands::edit_message,
            commands::delete_message,
            commands::react,
            commands::mark_read,
            commands::search_messages,
            commands::create_invite,
            commands::accept_invite,
            commands::invite_relays,
            commands::contacts,
            commands::set_verified,
            commands::create_group,
            commands::members,
            commands::add_member,
            commands::remove_member,
            commands::rename_group,
            commands::leave_group,
            commands::family_board,
            commands::check_in,
            commands::settings,
            commands::set_lan_only,
            commands::set_relays,
            commands::set_relay_for_family,
            commands::set_public_network,
            commands::set_nostr,
            commands::set_nostr_relays,
            commands::mailbox_relays,
            commands::network_status,
            commands::set_language,
            commands::autostart,
            commands::set_autostart,
            attachments::send_attachment,
            attachments::blob_bytes,
            attachments::fetch_blob,
            attachments::save_blob,
            attachments::set_fetch_media_everywhere,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("Hearth could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| match event {
        // Closing the window keeps Hearth running behind its tray icon, so messages still
        // arrive and notify; the tray's Quit ends it.
        RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::CloseRequested { api, .. },
            ..
        } if tray::keeps_running(handle) => {
            api.prevent_close();
            if let Some(w) = handle.get_webview_window(&label) {
                let _ = w.hide();
            }
        }
        // Without a tray the window going is the app going: stop the node while the process
        // surely still runs (a desktop, or a WebDriver session, may end it as soon as its
        // last window is gone), and again at exit for any other way out.
        RunEvent::WindowEvent {
            event: tauri::WindowEvent::CloseRequested { .. } | tauri::WindowEvent::Destroyed,
            ..
        }
        | RunEvent::Exit => shutdown(handle),
        _ => {}
    });
}

/// SIGTERM (a desktop logging out, `kill`, a system shutdown) and SIGINT end the app the way
/// closing its window does: the node stops cleanly first.
fn stop_on_signal(handle: tauri::AppHandle) {
    #[cfg(all(unix, desktop))]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        handle.exit(0);
        // Asked twice: someone wants it gone now, stopped or not.
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        std::process::exit(1);
    });
    #[cfg(not(all(unix, desktop)))]
    let _ = handle;
}

/// Stops the node once: everything queued is committed and the write-ahead log folded into
/// the database before the process ends.
fn shutdown(handle: &tauri::AppHandle) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    if let Some(Ok(node)) = handle.try_state::<Slot>().map(|s| s.node()) {
        if tauri::async_runtime::block_on(node.shutdown()).is_ok() {
            eprintln!("hearth: node stopped");
        }
    }
}
