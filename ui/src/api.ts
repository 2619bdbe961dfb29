// The one module that talks to the Tauri shell. Every command in CONTRACT.md has a typed
// function here; everything else in the UI imports these instead of `@tauri-apps/api`, so the
// shell boundary is in one place and the rest can be tested without Tauri.

import { invoke, type InvokeArgs, type InvokeOptions } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AttachmentKind,
  Board,
  Chat,
  Contact,
  HearthEvent,
  InviteCode,
  MailboxRelaysStatus,
  Member,
  Message,
  NetworkStatus,
  Profile,
  Settings,
} from './lib/types.gen';

// ---------------------------------------------------------------------------------------------
// Types: generated from the Rust types the shell sends (lib/types.gen.ts, see CONTRACT.md), and
// re-exported so the rest of the UI imports everything from here.
export type * from './lib/types.gen';

/** A rejected command, normalised: `kind` is a machine word, `message` a sentence for people. */
export type ApiError = { kind: string; message: string };

// ---------------------------------------------------------------------------------------------
// Errors

/** Turns whatever a command rejected with into an `ApiError`. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    if (typeof o.kind === 'string') {
      return { kind: o.kind, message: typeof o.message === 'string' ? o.message : '' };
    }
    if (e instanceof Error) {
      return { kind: 'unavailable', message: e.message };
    }
  }
  if (typeof e === 'string') {
    // Outside Tauri (a plain browser), or a shell error that was sent as text.
    return { kind: 'unknown', message: e };
  }
  return { kind: 'unknown', message: String(e) };
}

export function isApiError(e: unknown): e is ApiError {
  return (
    !!e &&
    typeof e === 'object' &&
    typeof (e as ApiError).kind === 'string' &&
    typeof (e as ApiError).message === 'string'
  );
}

/** `args` is an object of named arguments, or raw bytes (then `options.headers` name them). */
async function call<T>(cmd: string, args?: InvokeArgs, options?: InvokeOptions): Promise<T> {
  try {
    return await invoke<T>(cmd, args, options);
  } catch (e) {
    throw toApiError(e);
  }
}

/** A raw response (Tauri's `ipc::Response`) as bytes, however the IPC handed it over. */
function toArrayBuffer(x: unknown): ArrayBuffer {
  if (x instanceof ArrayBuffer) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice().buffer;
  if (Array.isArray(x)) return Uint8Array.from(x as number[]).buffer;
  throw { kind: 'unavailable', message: 'The file came back in a form the app cannot read.' } satisfies ApiError;
}

// ---------------------------------------------------------------------------------------------
// Commands

export const profile = () => call<Profile | null>('profile');
export const createProfile = (name: string) => call<Profile>('create_profile', { name });
export const setName = (name: string) => call<void>('set_name', { name });

export const chats = () => call<Chat[]>('chats');
export const messages = (chat: string, limit: number, before: number | null) =>
  call<Message[]>('messages', { chat, limit, before });
export const sendMessage = (chat: string, body: string, replyTo: string | null) =>
  call<string>('send_message', { chat, body, replyTo });
export const editMessage = (message: string, body: string) =>
  call<void>('edit_message', { message, body });
export const deleteMessage = (message: string) => call<void>('delete_message', { message });
export const react = (message: string, emoji: string | null) =>
  call<void>('react', { message, emoji });
export const markRead = (chat: string) => call<void>('mark_read', { chat });
export const searchMessages = (query: string, chat: string | null) =>
  call<Message[]>('search_messages', { query, chat });

// Attachments: photos, voice messages and files. Their bytes cross the IPC raw (no JSON), so
// sending takes the bytes as the body and what describes them as headers.

/** A file to send, as the person chose or recorded it (the core downscales photos itself). */
export type Outgoing = {
  kind: AttachmentKind;
  name: string;
  mime: string;
  bytes: Uint8Array;
  /** Voice messages: their length, and up to 64 levels 0..255 to draw. */
  voice?: { durationMs: number; waveform: number[] };
};

/** Most levels a voice message's waveform carries (CONTRACT: `hearth-waveform`). */
export const WAVEFORM_BARS = 64;

/** The headers `send_attachment` reads (CONTRACT.md); header values must be plain ASCII. */
export function attachmentHeaders(chat: string, a: Outgoing, replyTo: string | null): Record<string, string> {
  const h: Record<string, string> = {
    'hearth-chat': chat,
    'hearth-kind': a.kind,
    'hearth-name': encodeURIComponent(a.name),
    // WebKitGTK's recorder says "audio/mp4; codecs=opus"; the core takes no spaces in a type.
    'hearth-mime': a.mime.replace(/\s+/g, '') || 'application/octet-stream',
  };
  if (a.voice) {
    h['hearth-duration-ms'] = String(Math.max(0, Math.round(a.voice.durationMs)));
    h['hearth-waveform'] = a.voice.waveform
      .slice(0, WAVEFORM_BARS)
      .map((v) => Math.min(255, Math.max(0, Math.round(v))))
      .join(',');
  }
  if (replyTo) h['hearth-reply-to'] = replyTo;
  return h;
}

/** Sends a photo, voice message or file; resolves to the new message's id. */
export const sendAttachment = (chat: string, a: Outgoing, replyTo: string | null) =>
  call<string>('send_attachment', a.bytes, { headers: attachmentHeaders(chat, a, replyTo) });
/** The whole file, decrypted; rejects with `not_found` while it is not downloaded. */
export const blobBytes = async (blob: string) => toArrayBuffer(await call<unknown>('blob_bytes', { blob }));
/** Downloads it now, over any path (the person tapped its preview). */
export const fetchBlob = (blob: string) => call<void>('fetch_blob', { blob });
/** Writes it to the Downloads folder under its name; resolves to the full path. */
export const saveBlob = (blob: string) => call<string>('save_blob', { blob });

export const createInvite = () => call<InviteCode>('create_invite');
/** Accepts a code; the relays it offers are used only if `useRelays` (the person agreed). */
export const acceptInvite = (code: string, useRelays: boolean) =>
  call<Contact>('accept_invite', { code, useRelays });
/** The relays a code offers that this device does not use yet (ask before using them). */
export const inviteRelays = (code: string) => call<string[]>('invite_relays', { code });
export const contacts = () => call<Contact[]>('contacts');
export const setVerified = (account: string, verified: boolean) =>
  call<void>('set_verified', { account, verified });

export const createGroup = (title: string, members: string[]) =>
  call<string>('create_group', { title, members });
export const members = (chat: string) => call<Member[]>('members', { chat });
export const addMember = (chat: string, account: string) =>
  call<void>('add_member', { chat, account });
export const removeMember = (chat: string, account: string) =>
  call<void>('remove_member', { chat, account });
export const renameGroup = (chat: string, title: string) =>
  call<void>('rename_group', { chat, title });
export const leaveGroup = (chat: string) => call<void>('leave_group', { chat });

export const familyBoard = () => call<Board>('family_board');
export const checkIn = () => call<void>('check_in');

export const settings = () => call<Settings>('settings');
export const setLanOnly = (enabled: boolean) => call<void>('set_lan_only', { enabled });
export const setRelays = (relays: string[]) => call<void>('set_relays', { relays });
export const setRelayForFamily = (enabled: boolean) =>
  call<void>('set_relay_for_family', { enabled });
/** "Find family through the public internet" (restarts networking). */
export const setPublicNetwork = (enabled: boolean) =>
  call<void>('set_public_network', { enabled });
/** "Leave messages in public mailboxes" (restarts networking). */
export const setNostr = (enabled: boolean) => call<void>('set_nostr', { enabled });
/** The public mailboxes (Nostr relays, `wss://…`); an empty list restores the usual ones. */
export const setNostrRelays = (relays: string[]) => call<void>('set_nostr_relays', { relays });
/** How each public mailbox is doing; null while they are not in use (off, LAN-only, offline). */
export const mailboxRelays = () => call<MailboxRelaysStatus | null>('mailbox_relays');
/** Photos and voice messages download by themselves over any path, not only the LAN. */
export const setFetchMediaEverywhere = (enabled: boolean) =>
  call<void>('set_fetch_media_everywhere', { enabled });
/** Null while networking is off. */
export const networkStatus = () => call<NetworkStatus | null>('network_status');
/** Tells the shell the UI's language, for what it says itself (notifications). */
export const setLanguage = (language: string) => call<void>('set_language', { language });
/** Whether Hearth starts when the person logs in (the shell's, not the node's). */
export const autostart = () => call<boolean>('autostart');
export const setAutostart = (enabled: boolean) => call<void>('set_autostart', { enabled });

// ---------------------------------------------------------------------------------------------
// Events

export const EVENT_NAME = 'hearth://event';

/** Calls `cb` for every `hearth://event`; resolves to a function that stops listening. */
export async function onEvent(cb: (e: HearthEvent) => void): Promise<UnlistenFn> {
  try {
    return await listen<HearthEvent>(EVENT_NAME, (e) => cb(e.payload));
  } catch (e) {
    throw toApiError(e);
  }
}
