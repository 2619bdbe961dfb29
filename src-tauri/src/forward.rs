//! Forwards `Node` events to the UI as `hearth://event`, and shows a desktop notification for
//! a new message when the window is not focused (or is closed to the tray). Events carry ids
//! only; the UI re-reads.
//!
//! Notifications are decided here, before the UI hears of the message, and shown from a
//! separate task so a slow notification service never holds up the UI. A catch-up after an
//! outage can bring hundreds of messages at once: each chat notifies at most once per
//! `NOTIFY_QUIET`, with the newest message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hearth_core::message::Kind;
use hearth_core::{ChatId, Event, MessageId, Node};
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

pub const EVENT: &str = "hearth://event";

/// Longest message text in a notification; the rest is in the app.
const NOTIFICATION_CHARS: usize = 120;
/// One notification per chat at most this often, so a catch-up does not flood the desktop.
const NOTIFY_QUIET: Duration = Duration::from_secs(10);

pub fn spawn(app: AppHandle, node: Node) {
    let mut events = node.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut last_notified: HashMap<ChatId, Instant> = HashMap::new();
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Event::MessageReceived { chat, message } = &e {
                        let quiet = last_notified
                            .get(chat)
                            .is_some_and(|t| t.elapsed() < NOTIFY_QUIET);
                        if !quiet && !focused(&app) {
                            last_notified.insert(*chat, Instant::now());
                            let (app, node, message) = (app.clone(), node.clone(), *message);
                            tauri::async_runtime::spawn(notify(app, node, message));
                        }
                    }
                    let _ = app.emit(EVENT, &e);
                }
                // The UI fell behind a burst: have it re-read everything it shows.
                Err(RecvError::Lagged(_)) => resync(&app, &node).await,
                Err(RecvError::Closed) => break,
            }
        }
    });
}

fn focused(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false)
}

async fn resync(app: &AppHandle, node: &Node) {
    let _ = app.emit(EVENT, &Event::ContactsChanged);
    let _ = app.emit(EVENT, &Event::ChatsChanged);
    for c in node.chats().await.unwrap_or_default() {
        let _ = app.emit(EVENT, &Event::MessagesChanged { chat: c.chat });
        let _ = app.emit(EVENT, &Event::DeliveryChanged { chat: c.chat });
    }
}

/// The language the UI shows, so that notifications speak it too (Korean until told).
pub struct Language(std::sync::atomic::AtomicBool);

impl Default for Language {
    fn default() -> Self {
        Language(std::sync::atomic::AtomicBool::new(true))
    }
}

impl Language {
    pub fn set(&self, lang: &str) {
        self.0
            .store(lang.starts_with("ko"), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn korean(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What a notification says for a message: its text, or for a check-in the words for it.
fn notification_body(kind: Kind, body: &str, korean: bool) -> String {
    match (kind, korean) {
        (Kind::CheckIn, true) => "무사하다고 알렸어요".to_string(),
        (Kind::CheckIn, false) => "checked in: safe".to_string(),
        _ => body.chars().take(NOTIFICATION_CHARS).collect(),
    }
}

async fn notify(app: AppHandle, node: Node, message: MessageId) {
    let Ok(m) = node.message(&message).await else {
        return;
    };
    let korean = app.state::<Language>().korean();
    let body = notification_body(m.kind, &m.body, korean);
    // A desktop without a notification service just doesn't show it.
    let _ = app
        .notification()
        .builder()
        .title(&m.author_name)
        .body(body)
        .show();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_in_notifies_in_the_ui_language_not_in_cores_words() {
        let core_words = hearth_core::node::CHECK_IN_TEXT;
        assert_eq!(
            notification_body(Kind::CheckIn, core_words, true),
            "무사하다고 알렸어요"
        );
        assert_eq!(
            notification_body(Kind::CheckIn, core_words, false),
            "checked in: safe"
        );
        assert_eq!(
            notification_body(Kind::Text, "밥 먹었어?", true),
            "밥 먹었어?"
        );
        let long = "가".repeat(500);
        assert_eq!(
            notification_body(Kind::Text, &long, true).chars().count(),
            NOTIFICATION_CHARS
        );
    }
}
