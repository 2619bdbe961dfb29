//! The commands the UI calls: each a few lines over `Node` (ui/CONTRACT.md lists them).
//! Ids arrive as hex strings and deserialise straight into the core's id types.

use hearth_core::board::Board;
use hearth_core::contacts::Contact;
use hearth_core::conversation::{Chat, Member};
use hearth_core::invite::Invite;
use hearth_core::message::Message;
use hearth_core::node::Profile;
use hearth_core::settings::Settings;
use hearth_core::{AccountId, ChatId, Error as CoreError, MessageId, Node};
use serde::Serialize;
use tauri::State;

use crate::error::{Error, Result};

/// Most messages one page of history may ask for.
const MAX_PAGE: usize = 500;
/// Most search results shown at once.
const SEARCH_LIMIT: usize = 200;
/// How long a code shown in the app stays valid.
const INVITE_TTL_SECS: u64 = 7 * 24 * 3600;

#[tauri::command]
pub async fn get_profile(node: State<'_, Node>) -> Result<Option<Profile>> {
    match node.profile().await {
        Ok(p) => Ok(Some(p)),
        Err(CoreError::NoIdentity) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub async fn create_profile(node: State<'_, Node>, name: String) -> Result<Profile> {
    let p = node.init(&name).await?;
    crate::start_network(&node).await?;
    Ok(p)
}

#[tauri::command]
pub async fn set_name(node: State<'_, Node>, name: String) -> Result<()> {
    Ok(node.set_name(&name).await?)
}

#[tauri::command]
pub async fn list_chats(node: State<'_, Node>) -> Result<Vec<Chat>> {
    Ok(node.chats().await?)
}

#[tauri::command]
pub async fn list_messages(
    node: State<'_, Node>,
    chat: ChatId,
    limit: usize,
    before: Option<u64>,
) -> Result<Vec<Message>> {
    Ok(node.messages(&chat, limit.min(MAX_PAGE), before).await?)
}

#[tauri::command]
pub async fn send_message(
    node: State<'_, Node>,
    chat: ChatId,
    body: String,
    reply_to: Option<MessageId>,
) -> Result<MessageId> {
    Ok(node.send(&chat, &body, reply_to).await?)
}

#[tauri::command]
pub async fn edit_message(node: State<'_, Node>, message: MessageId, body: String) -> Result<()> {
    Ok(node.edit(&message, &body).await?)
}

#[tauri::command]
pub async fn delete_message(node: State<'_, Node>, message: MessageId) -> Result<()> {
    Ok(node.delete(&message).await?)
}

#[tauri::command]
pub async fn react(node: State<'_, Node>, message: MessageId, emoji: Option<String>) -> Result<()> {
    Ok(node.react(&message, emoji.as_deref()).await?)
}

#[tauri::command]
pub async fn mark_read(node: State<'_, Node>, chat: ChatId) -> Result<()> {
    Ok(node.mark_read(&chat).await?)
}

#[tauri::command]
pub async fn search_messages(
    node: State<'_, Node>,
    query: String,
    chat: Option<ChatId>,
) -> Result<Vec<Message>> {
    Ok(node.search(&query, chat.as_ref(), SEARCH_LIMIT).await?)
}

#[derive(Serialize)]
pub struct InviteView {
    code: String,
    qr_svg: String,
}

#[tauri::command]
pub async fn my_invite(node: State<'_, Node>) -> Result<InviteView> {
    let code = node.create_invite(INVITE_TTL_SECS, Vec::new()).await?;
    let qr_svg = Invite::qr_svg(&code)
        .ok_or_else(|| Error::invalid("the code is too long for a QR code"))?;
    Ok(InviteView { code, qr_svg })
}

#[tauri::command]
pub async fn accept_invite(node: State<'_, Node>, code: String) -> Result<Contact> {
    Ok(node.accept_invite(&code).await?)
}

#[tauri::command]
pub async fn list_contacts(node: State<'_, Node>) -> Result<Vec<Contact>> {
    Ok(node.contacts().await?)
}

#[tauri::command]
pub async fn set_verified(node: State<'_, Node>, account: AccountId, verified: bool) -> Result<()> {
    Ok(node.set_verified(&account, verified).await?)
}

#[tauri::command]
pub async fn create_group(
    node: State<'_, Node>,
    title: String,
    members: Vec<AccountId>,
) -> Result<ChatId> {
    Ok(node.create_group(&title, &members).await?)
}

#[tauri::command]
pub async fn group_members(node: State<'_, Node>, chat: ChatId) -> Result<Vec<Member>> {
    Ok(node.members(&chat).await?)
}

#[tauri::command]
pub async fn add_member(node: State<'_, Node>, chat: ChatId, account: AccountId) -> Result<()> {
    Ok(node.add_member(&chat, &account).await?)
}

#[tauri::command]
pub async fn remove_member(node: State<'_, Node>, chat: ChatId, account: AccountId) -> Result<()> {
    Ok(node.remove_member(&chat, &account).await?)
}

#[tauri::command]
pub async fn rename_group(node: State<'_, Node>, chat: ChatId, title: String) -> Result<()> {
    Ok(node.rename_group(&chat, &title).await?)
}

#[tauri::command]
pub async fn leave_group(node: State<'_, Node>, chat: ChatId) -> Result<()> {
    Ok(node.leave(&chat).await?)
}

#[tauri::command]
pub async fn family_board(node: State<'_, Node>) -> Result<Board> {
    Ok(node.board().await?)
}

#[tauri::command]
pub async fn check_in(node: State<'_, Node>) -> Result<()> {
    node.check_in().await?;
    Ok(())
}

#[tauri::command]
pub async fn get_settings(node: State<'_, Node>) -> Result<Settings> {
    Ok(node.settings().await?)
}

#[tauri::command]
pub async fn set_lan_only(node: State<'_, Node>, enabled: bool) -> Result<()> {
    Ok(node.set_lan_only(enabled).await?)
}

#[tauri::command]
pub async fn set_relays(node: State<'_, Node>, relays: Vec<String>) -> Result<()> {
    Ok(node.set_relays(&relays).await?)
}
