//! Declares the app's commands so each gets an `allow-<command>` permission; the capability
//! in `capabilities/` grants exactly the ones the UI uses (see `src/commands.rs`).

const COMMANDS: &[&str] = &[
    "profile",
    "create_profile",
    "set_name",
    "chats",
    "messages",
    "send_message",
    "edit_message",
    "delete_message",
    "react",
    "mark_read",
    "search_messages",
    "create_invite",
    "accept_invite",
    "invite_relays",
    "contacts",
    "set_verified",
    "create_group",
    "members",
    "add_member",
    "remove_member",
    "rename_group",
    "leave_group",
    "family_board",
    "check_in",
    "settings",
    "set_lan_only",
    "set_relays",
    "set_relay_for_family",
    "set_public_network",
    "set_nostr",
    "set_nostr_relays",
    "mailbox_relays",
    "network_status",
    "set_language",
    "autostart",
    "set_autostart",
    "send_attachment",
    "blob_bytes",
    "fetch_blob",
    "save_blob",
    "set_fetch_media_everywhere",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
