//! The commands the UI calls: each a few lines over `Node` (ui/CONTRACT.md lists them).
//! Ids arrive as hex strings and deserialise straight into the core's id types.

use hearth_core::board::Board;
use hearth_core::contacts::Contact;
use hearth_core::conversation::{Chat, Member};
use hearth_core::invite;
use hearth_core::message::Message;
use hearth_core::node::Profile;
use hearth_core::settings::Settings;
use hearth_core::{AccountId, ChatId, Error as CoreError, MessageId};
use tauri::State;

use crate::error::{Error, Result};
use crate::Slot;

/// Most messages one page of history may ask for.
const MAX_PAGE: usize = 500;
/// Most search results shown at once.
const SEARCH_LIMIT: usize = 200;
/// How long a code shown in the app stays valid.
const INVITE_TTL_SECS: u64 = 7 * 24 * 3600;

#[tauri::command]
pub async fn profile(app: tauri::AppHandle, slot: State<'_, Slot>) -> Result<Option<Profile>> {
    let node = slot.reopen(&app).await?;
    match node.profile().await {
        Ok(p) => Ok(Some(p)),
        Err(CoreError::NoIdentity) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub async fn create_profile(slot: State<'_, Slot>, name: String) -> Result<Profile> {
    let node = slot.node()?;
    let p = node.create_profile(&name).await?;
    // The identity exists now: a network that cannot start (no usable address) leaves the
    // node working offline, as at every other start, rather than failing the first run.
    if let Err(e) = crate::start_network(&node).await {
        tracing::warn!(error = %e, "network did not start; working offline");
    }
    Ok(p)
}

#[tauri::command]
pub async fn set_name(slot: State<'_, Slot>, name: String) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_name(&name).await?)
}

#[tauri::command]
pub async fn chats(slot: State<'_, Slot>) -> Result<Vec<Chat>> {
    let node = slot.node()?;
    Ok(node.chats().await?)
}

#[tauri::command]
pub async fn messages(
    slot: State<'_, Slot>,
    chat: ChatId,
    limit: usize,
    before: Option<u64>,
) -> Result<Vec<Message>> {
    let node = slot.node()?;
    Ok(node.messages(&chat, limit.min(MAX_PAGE), before).await?)
}

#[tauri::command]
pub async fn send_message(
    slot: State<'_, Slot>,
    chat: ChatId,
    body: String,
    reply_to: Option<MessageId>,
) -> Result<MessageId> {
    let node = slot.node()?;
    Ok(node.send_message(&chat, &body, reply_to).await?)
}

#[tauri::command]
pub async fn edit_message(slot: State<'_, Slot>, message: MessageId, body: String) -> Result<()> {
    let node = slot.node()?;
    Ok(node.edit_message(&message, &body).await?)
}

#[tauri::command]
pub async fn delete_message(slot: State<'_, Slot>, message: MessageId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.delete_message(&message).await?)
}

#[tauri::command]
pub async fn react(slot: State<'_, Slot>, message: MessageId, emoji: Option<String>) -> Result<()> {
    let node = slot.node()?;
    Ok(node.react(&message, emoji.as_deref()).await?)
}

#[tauri::command]
pub async fn mark_read(slot: State<'_, Slot>, chat: ChatId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.mark_read(&chat).await?)
}

#[tauri::command]
pub async fn search_messages(
    slot: State<'_, Slot>,
    query: String,
    chat: Option<ChatId>,
) -> Result<Vec<Message>> {
    let node = slot.node()?;
    Ok(node
        .search_messages(&query, chat.as_ref(), SEARCH_LIMIT)
        .await?)
}

#[tauri::command]
pub async fn create_invite(slot: State<'_, Slot>) -> Result<invite::Code> {
    let node = slot.node()?;
    let code = node.create_invite(INVITE_TTL_SECS, Vec::new()).await?;
    invite::Code::new(code).ok_or_else(|| Error::invalid("the code is too long for a QR code"))
}

/// Accepts a code; its relays are used only when the person said yes (`use_relays`).
#[tauri::command]
pub async fn accept_invite(
    slot: State<'_, Slot>,
    code: String,
    use_relays: bool,
) -> Result<Contact> {
    let node = slot.node()?;
    let contact = node.accept_invite(&code).await?;
    if use_relays {
        node.use_invite_relays(&code).await?;
    }
    Ok(contact)
}

/// The relays a code offers that are not used yet: the question to ask before accepting.
#[tauri::command]
pub async fn invite_relays(slot: State<'_, Slot>, code: String) -> Result<Vec<String>> {
    let node = slot.node()?;
    Ok(node.invite_relays(&code).await?)
}

#[tauri::command]
pub async fn contacts(slot: State<'_, Slot>) -> Result<Vec<Contact>> {
    let node = slot.node()?;
    Ok(node.contacts().await?)
}

#[tauri::command]
pub async fn set_verified(slot: State<'_, Slot>, account: AccountId, verified: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_verified(&account, verified).await?)
}

#[tauri::command]
pub async fn create_group(
    slot: State<'_, Slot>,
    title: String,
    members: Vec<AccountId>,
) -> Result<ChatId> {
    let node = slot.node()?;
    Ok(node.create_group(&title, &members).await?)
}

#[tauri::command]
pub async fn members(slot: State<'_, Slot>, chat: ChatId) -> Result<Vec<Member>> {
    let node = slot.node()?;
    Ok(node.members(&chat).await?)
}

#[tauri::command]
pub async fn add_member(slot: State<'_, Slot>, chat: ChatId, account: AccountId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.add_member(&chat, &account).await?)
}

#[tauri::command]
pub async fn remove_member(slot: State<'_, Slot>, chat: ChatId, account: AccountId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.remove_member(&chat, &account).await?)
}

#[tauri::command]
pub async fn rename_group(slot: State<'_, Slot>, chat: ChatId, title: String) -> Result<()> {
    let node = slot.node()?;
    Ok(node.rename_group(&chat, &title).await?)
}

#[tauri::command]
pub async fn leave_group(slot: State<'_, Slot>, chat: ChatId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.leave_group(&chat).await?)
}

#[tauri::command]
pub async fn family_board(slot: State<'_, Slot>) -> Result<Board> {
    let node = slot.node()?;
    Ok(node.family_board().await?)
}

#[tauri::command]
pub async fn check_in(slot: State<'_, Slot>) -> Result<usize> {
    let node = slot.node()?;
    Ok(node.check_in().await?)
}

#[tauri::command]
pub async fn settings(slot: State<'_, Slot>) -> Result<Settings> {
    let node = slot.node()?;
    Ok(node.settings().await?)
}

#[tauri::command]
pub async fn set_lan_only(slot: State<'_, Slot>, enabled: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_lan_only(enabled).await?)
}

#[tauri::command]
pub async fn set_relays(slot: State<'_, Slot>, relays: Vec<String>) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_relays(&relays).await?)
}

#[tauri::command]
pub async fn set_relay_for_family(slot: State<'_, Slot>, enabled: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_relay_for_family(enabled).await?)
}

/// "Find family through the public internet" (restarts networking).
#[tauri::command]
pub async fn set_public_network(slot: State<'_, Slot>, enabled: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_public_network(enabled).await?)
}

/// "Leave messages in public mailboxes" (restarts networking).
#[tauri::command]
pub async fn set_nostr(slot: State<'_, Slot>, enabled: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_nostr(enabled).await?)
}

/// The public mailboxes (Nostr relays, `wss://…`); an empty list restores the bundled ones.
#[tauri::command]
pub async fn set_nostr_relays(slot: State<'_, Slot>, relays: Vec<String>) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_nostr_relays(&relays).await?)
}

/// The public mailboxes and how each is doing; None while they are not in use.
#[tauri::command]
pub async fn mailbox_relays(slot: State<'_, Slot>) -> Result<Option<hearth_core::nostr::Status>> {
    let node = slot.node()?;
    Ok(node.mailbox_relays().await)
}

#[tauri::command]
pub async fn network_status(slot: State<'_, Slot>) -> Result<Option<hearth_core::net::Status>> {
    let node = slot.node()?;
    Ok(node.network_status().await?)
}

/// The UI's language, for what the shell itself says (notifications, the tray's menu).
#[tauri::command]
pub fn set_language(
    app: tauri::AppHandle,
    lang: State<'_, crate::forward::Language>,
    language: String,
) {
    lang.set(&language);
    crate::tray::relabel(&app, lang.korean());
}

/// Whether Hearth starts when the person logs in.
#[tauri::command]
pub fn autostart(app: tauri::AppHandle) -> Result<bool> {
    crate::autostart::enabled(&app)
}

#[tauri::command]
pub fn set_autostart(app: tauri::AppHandle, enabled: bool) -> Result<()> {
    crate::autostart::set(&app, enabled)
}
