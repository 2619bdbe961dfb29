//! Forwards `Node` events to the UI as `hearth://event`, and shows a desktop notification for
//! a new message when the window is not focused. Events carry ids only; the UI re-reads.

use hearth_core::{Event, Node};
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

pub const EVENT: &str = "hearth://event";

/// Longest message text in a notification; the rest is in the app.
const NOTIFICATION_CHARS: usize = 120;

pub fn spawn(app: AppHandle, node: Node) {
    let mut events = node.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Event::MessageReceived { message, .. } = &e {
                        notify(&app, &node, message).await;
                    }
                    let _ = app.emit(EVENT, &e);
                }
                // The UI fell behind a burst: have it re-read everything it shows.
                Err(RecvError::Lagged(_)) => {
                    let _ = app.emit(EVENT, &Event::ChatsChanged);
                    let _ = app.emit(EVENT, &Event::ContactsChanged);
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

async fn notify(app: &AppHandle, node: &Node, message: &hearth_core::MessageId) {
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    let Ok(m) = node.message(message).await else {
        return;
    };
    let body: String = m.body.chars().take(NOTIFICATION_CHARS).collect();
    // A desktop without a notification service just doesn't show it.
    let _ = app
        .notification()
        .builder()
        .title(&m.author_name)
        .body(body)
        .show();
}
