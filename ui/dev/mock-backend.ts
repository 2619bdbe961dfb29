// A fake Tauri shell for working on the UI in a plain browser: `npm run dev`, then open
// http://localhost:1420/dev/mock.html (add `?profile=1` to skip first run, `&big=1` for a
// conversation of 100k messages, `&fail=chats,family_board` to see those commands fail
// until `hearthMock.failing.clear()` in the console). Photos, voice messages and files are in
// the family group and Dad's chat, in every download state; `hearthMock.damage(blob)` breaks
// one. It implements CONTRACT.md in memory and
// emits the same events; it is not part of the app build. What it returns has the types
// generated from the Rust ones (src/lib/types.gen.ts), so svelte-check catches a drift here too.

import type {
  Attachment,
  AttachmentKind,
  Board,
  BoardEntry,
  Chat,
  ChatKind,
  Contact,
  ContactState,
  HearthEvent,
  InviteCode,
  Member,
  Message,
  NetworkStatus,
  Path,
  Profile,
  Settings,
} from '../src/api';
import { processPhoto, sampleFile, samplePhoto, sampleVoice } from './mock-media';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
/** How a contact is reached, as the board shows it. */
type Reach = Pick<BoardEntry, 'path' | 'via' | 'public_relay' | 'last_seen_ms' | 'check_in_ms'>;

const params = new URLSearchParams(location.search);
const BIG = params.has('big');
/** Commands that fail (with a storage error), to see the screens' error states. */
const failing = new Set((params.get('fail') ?? '').split(',').filter(Boolean));
const DAY = 86_400_000;
/** The usual public mailboxes, as the core bundles them. */
const MAILBOX_RELAYS = ['wss://relay.damus.io', 'wss://nos.lol', 'wss://relay.primal.net', 'wss://nostr.mom'];
/** Blobs travel in chunks of this size; progress counts chunks (CONTRACT: `blob_progress`). */
const CHUNK = 256 * 1024;
/** The largest attachment the core takes. */
const MAX_ATTACHMENT = 100 * 1024 * 1024;
/** How long the mock takes per chunk: slow enough to watch the bar move. */
const CHUNK_MS = 300;

const hex = (n: number, len = 32) => n.toString(16).padStart(len, '0');
let seq = 1;
const newId = () => hex(Date.now() * 1000 + seq++);
/** HLC value as the shell sends it: `ms << 16 | counter`, rounded by JSON like the real one. */
const hlc = (ms: number, counter = 0) => Number(BigInt(ms) * 65536n + BigInt(counter));

const state = {
  profile: (params.has('profile') ? { name: 'Mi-ja', account: hex(1, 64), device: hex(2, 64) } : null) as Profile | null,
  settings: {
    lan_only: false,
    relays: ['/dns4/relay.example/tcp/4001/p2p/12D3KooWMockRelay', '/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWGone'],
    relay_for_family: false,
    public_network: true,
    nostr: true,
    nostr_relays: [...MAILBOX_RELAYS],
    fetch_media_everywhere: false,
  } as Settings,
  /** The start-at-login entry (the shell's, not the node's). */
  autostart: true,
  /** Live state of each relay address (see network_status); unknown ones are not connected. */
  relayLive: new Map<string, { connected: boolean; reserved: boolean }>(),
  myCheckIn: null as number | null,
  contacts: [] as Contact[],
  chats: [] as Chat[],
  messages: new Map<string, Message[]>(),
  members: new Map<string, string[]>(),
  paths: new Map<string, Reach>(),
  /** Every blob's bytes, whether this device "has" them yet or not (see Attachment.state). */
  blobs: new Map<string, Uint8Array>(),
  /** Names already used in the Downloads folder. */
  saved: new Set<string>(),
};

const me = () => state.profile?.account ?? hex(1, 64);

function contact(
  n: number,
  name: string,
  st: ContactState,
  path: Path,
  via: string | null = null,
  public_relay = false,
) {
  const account = hex(100 + n, 64);
  const c: Contact = {
    account,
    name,
    own_name: name,
    state: st,
    refused: st === 'refused' ? 'The invite had expired.' : null,
    verified: false,
    blocked: false,
    safety_number: '12345 67890 13579 24680 11223 34455',
    chat: null,
    equivocated: false,
  };
  state.contacts.push(c);
  state.paths.set(account, {
    path,
    via,
    public_relay,
    last_seen_ms: path === 'none' ? Date.now() - 3 * DAY : Date.now() - 60_000,
    check_in_ms: null,
  });
  return c;
}

function chat(kind: ChatKind, title: string, peer: string | null, members: string[]) {
  const id = newId();
  state.chats.push({
    chat: id,
    kind,
    title,
    unread: 0,
    last_at: 0,
    last_at_ms: 0,
    last_message: null,
    active: true,
    peer,
    undecryptable: 0,
  });
  state.messages.set(id, []);
  state.members.set(id, [me(), ...members]);
  return id;
}

function msg(chatId: string, author: string, body: string, ms: number, counter = 0, extra: Partial<Message> = {}) {
  const c = state.contacts.find((x) => x.account === author);
  const m: Message = {
    id: newId(),
    chat: chatId,
    author,
    author_name: author === me() ? state.profile?.name ?? '' : c?.name ?? '?',
    mine: author === me(),
    sent_at: hlc(ms, counter),
    sent_at_ms: ms,
    body,
    reply_to: null,
    edited_at: null,
    deleted: false,
    kind: 'text',
    reactions: [],
    status: author === me() ? 'read' : null,
    receipts: [],
    mailboxes: [],
    attachment: null,
    ...extra,
  };
  state.messages.get(chatId)!.push(m);
  return m;
}

function seed() {
  const gran = contact(1, 'Grandma', 'connected', 'lan');
  const dad = contact(2, 'Dad', 'connected', 'mesh', 'Grandma');
  contact(3, 'Cousin Joon', 'pending', 'none');
  contact(4, 'Old phone', 'refused', 'none');
  // Uncle is offline, but the relay's mailbox keeps messages for him.
  const uncle = contact(5, 'Uncle', 'connected', 'mailbox');
  // An aunt abroad, reached through a stranger's relay on the public network.
  contact(6, 'Aunt Sun', 'connected', 'relayed', null, true);
  gran.chat = chat('direct', 'Grandma', gran.account, [gran.account]);
  dad.chat = chat('direct', 'Dad', dad.account, [dad.account]);
  uncle.chat = chat('direct', 'Uncle', uncle.account, [uncle.account]);
  const fam = chat('group', 'Kim family', null, [gran.account, dad.account, uncle.account]);

  const n = Number(params.get('n') ?? (BIG ? 100_000 : 400));
  const start = Date.now() - 200 * DAY;
  const step = (200 * DAY) / n;
  for (let i = 0; i < n; i++) {
    const who = i % 3 === 0 ? me() : gran.account;
    const len = 1 + ((i * 7919) % 9);
    const body = `Message ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(len);
    // Bursts: several messages in one millisecond, told apart by the counter only.
    const ms = Math.floor(start + Math.floor(i / 4) * step * 4);
    msg(gran.chat, who, body.trim(), ms, i % 4);
  }
  msg(dad.chat, dad.account, 'Are you home?', Date.now() - 2 * 3600_000);
  msg(fam, uncle.account, 'Dinner on Sunday?', Date.now() - 600_000);
  msg(fam, me(), 'Yes!', Date.now() - 500_000, 0, { status: 'delivered' });
  msg(uncle.chat, me(), 'Call me when you are back?', Date.now() - 400_000, 0, {
    status: 'in_mailbox',
    mailboxes: MAILBOX_RELAYS.map((r) => `${r}/`),
  });
  seedMedia(fam, dad.chat!, gran.account, dad.account, uncle.account);
  state.paths.get(gran.account)!.check_in_ms = Date.now() - 3600_000;
  for (const c of state.chats) touch(c.chat);
  state.chats.find((c) => c.chat === dad.chat)!.unread = 1;
  restartNetwork();
}

// --- photos, voice messages and files -------------------------------------------------------

function attachment(
  kind: AttachmentKind,
  name: string,
  mime: string,
  bytes: Uint8Array,
  blobState: Attachment['state'],
  extra: Partial<Attachment> = {},
): Attachment {
  const blob = hex(Date.now(), 16) + hex(seq++, 48);
  state.blobs.set(blob, bytes);
  return {
    blob,
    kind,
    name,
    mime,
    size: bytes.length,
    preview: null,
    width: null,
    height: null,
    duration_ms: null,
    waveform: [],
    state: blobState,
    ...extra,
  };
}

function seedMedia(fam: string, dadChat: string, gran: string, dad: string, uncle: string) {
  const now = Date.now();
  // Grandma is on the LAN: her photo and voice message came by themselves.
  const sea = samplePhoto(1600, 1200, '#6fb7e9', '#3f8f4f');
  const seaExtra = { preview: sea.preview, width: sea.width, height: sea.height };
  msg(fam, gran, '', now - 480_000, 0, {
    attachment: attachment('photo', 'sea.jpg', 'image/jpeg', sea.bytes, { state: 'complete' }, seaExtra),
  });
  const voice = sampleVoice(6.4);
  msg(fam, gran, '', now - 470_000, 0, {
    attachment: attachment('voice', 'voice.wav', 'audio/wav', voice.bytes, { state: 'complete' }, {
      duration_ms: 6400,
      waveform: voice.waveform,
    }),
  });
  // Uncle's photo arrived broken.
  const hike = samplePhoto(900, 1200, '#c9a0dc', '#7a5c3a');
  const hikeExtra = { preview: hike.preview, width: hike.width, height: hike.height };
  const damaged = { state: 'damaged' as const, reason: 'A piece of it did not match its checksum.' };
  msg(fam, uncle, 'From the hike', now - 460_000, 0, {
    attachment: attachment('photo', 'hike.jpg', 'image/jpeg', hike.bytes, damaged, hikeExtra),
  });
  // Grandma's recipe is on its way over the LAN.
  const size = 3 * 1024 * 1024 + 123;
  const recipe = attachment('file', 'kimchi recipe.pdf', 'application/pdf', sampleFile(size), {
    state: 'downloading',
    have: 0,
    of: Math.ceil(size / CHUNK),
  });
  msg(fam, gran, '', now - 450_000, 0, { attachment: recipe });
  setTimeout(() => downloadBlob(recipe.blob), 1500);
  // Dad is reached through Grandma's device: his media waits for a tap.
  const garden = samplePhoto(1200, 1600, '#f4a261', '#2a9d8f');
  const gardenExtra = { preview: garden.preview, width: garden.width, height: garden.height };
  msg(dadChat, dad, '', now - 2 * 3600_000 - 60_000, 0, {
    attachment: attachment('photo', 'garden.jpg', 'image/jpeg', garden.bytes, { state: 'preview_only' }, gardenExtra),
  });
  const dadVoice = sampleVoice(12.5);
  msg(dadChat, dad, '', now - 2 * 3600_000 - 30_000, 0, {
    attachment: attachment('voice', 'voice.wav', 'audio/wav', dadVoice.bytes, { state: 'preview_only' }, {
      duration_ms: 12_500,
      waveform: dadVoice.waveform,
    }),
  });
  msg(dadChat, dad, 'The form for the bank', now - 2 * 3600_000 - 10_000, 0, {
    attachment: attachment('file', 'bank form.pdf', 'application/pdf', sampleFile(1_250_000), { state: 'preview_only' }),
  });
}

function findBlob(blob: string): { m: Message; a: Attachment } | null {
  for (const list of state.messages.values()) {
    for (let i = list.length - 1; i >= 0; i--) {
      const a = list[i].attachment;
      if (a?.blob === blob) return { m: list[i], a };
    }
  }
  return null;
}

const downloading = new Set<string>();

/** Fetches a blob chunk by chunk, as the core does, with a `blob_progress` for each. */
function downloadBlob(blob: string) {
  const found = findBlob(blob);
  if (!found || downloading.has(blob)) return;
  const { m, a } = found;
  if (a.state.state === 'complete' || a.state.state === 'damaged') return;
  downloading.add(blob);
  const of = Math.max(1, Math.ceil(a.size / CHUNK));
  let have = 0;
  a.state = { state: 'downloading', have, of };
  emit({ event: 'messages_changed', chat: m.chat });
  const step = () => {
    if (a.state.state !== 'downloading') {
      downloading.delete(blob);
      return;
    }
    have++;
    a.state = { state: 'downloading', have, of };
    emit({ event: 'blob_progress', blob, have, of });
    if (have < of) {
      setTimeout(step, CHUNK_MS);
      return;
    }
    downloading.delete(blob);
    a.state = { state: 'complete' };
    emit({ event: 'messages_changed', chat: m.chat });
  };
  setTimeout(step, CHUNK_MS);
}

/** Breaks a blob (from the console: `hearthMock.damage(blob)`), to see the damaged state. */
function damage(blob: string, reason = 'A piece of it did not match its checksum.') {
  const found = findBlob(blob);
  if (!found) return;
  found.a.state = { state: 'damaged', reason };
  emit({ event: 'messages_changed', chat: found.m.chat });
}

/** A name not used yet in the Downloads folder: "sea.jpg", then "sea (2).jpg", like the shell. */
function uniqueName(name: string): string {
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  let candidate = name;
  for (let i = 2; state.saved.has(candidate); i++) candidate = `${stem} (${i})${ext}`;
  state.saved.add(candidate);
  return candidate;
}

/** Like the shell: the file's bytes as the body, what describes it as headers. */
async function sendAttachment(body: Uint8Array, h: Headers): Promise<string> {
  const c = h.get('hearth-chat') ?? '';
  const kind = h.get('hearth-kind') as AttachmentKind;
  const name = decodeURIComponent(h.get('hearth-name') ?? 'file');
  const mime = h.get('hearth-mime') ?? 'application/octet-stream';
  if (!state.messages.has(c)) throw { kind: 'not_found', message: 'No such conversation.' };
  if (!['photo', 'voice', 'file'].includes(kind)) throw { kind: 'invalid', message: `Unknown attachment kind ${kind}.` };
  if (body.length > MAX_ATTACHMENT) throw { kind: 'too_large', message: `${name} is larger than 100 MB.` };
  let a: Attachment;
  if (kind === 'photo') {
    const photo = await processPhoto(body, mime).catch(() => {
      throw { kind: 'invalid', message: 'This file is not a photo Hearth can read' };
    });
    const jpg = name.replace(/\.[^.]*$/, '') + '.jpg';
    a = attachment('photo', jpg, 'image/jpeg', photo.bytes, { state: 'complete' }, {
      preview: photo.preview,
      width: photo.width,
      height: photo.height,
    });
  } else if (kind === 'voice') {
    const waveform = (h.get('hearth-waveform') ?? '').split(',').filter(Boolean).map(Number);
    a = attachment('voice', name, mime, body.slice(), { state: 'complete' }, {
      duration_ms: Number(h.get('hearth-duration-ms') ?? 0),
      waveform,
    });
  } else {
    a = attachment('file', name, mime, body.slice(), { state: 'complete' });
  }
  const m = msg(c, me(), '', Date.now(), 0, { status: 'queued', reply_to: h.get('hearth-reply-to'), attachment: a });
  touch(c);
  emit({ event: 'messages_changed', chat: c });
  emit({ event: 'chats_changed' });
  progressDelivery(m, c, `Got it: ${a.kind === 'photo' ? 'what a photo!' : a.name}`);
  return m.id;
}

// --- relays and mailboxes -------------------------------------------------------------------

let netRun = 0;

/** Like the real shell after a settings change: relays drop, then are reached one by one. */
function restartNetwork() {
  const run = ++netRun;
  state.relayLive.clear();
  emit({ event: 'relay_changed' });
  if (state.settings.lan_only) return;
  // Only the first relay answers; the second stays unreachable.
  const addr = state.settings.relays[0];
  if (!addr) return;
  setTimeout(() => {
    if (run !== netRun) return;
    state.relayLive.set(addr, { connected: true, reserved: false });
    emit({ event: 'relay_changed' });
  }, 1000);
  setTimeout(() => {
    if (run !== netRun) return;
    state.relayLive.set(addr, { connected: true, reserved: true });
    emit({ event: 'relay_changed' });
  }, 2500);
}

/** Some relay is connected, so its mailbox keeps messages for offline members. */
function hasMailbox() {
  return !state.settings.lan_only && [...state.relayLive.values()].some((r) => r.connected);
}

/** A contact's path right now: a mailbox only counts while a relay is connected. */
function pathOf(account: string): Reach {
  const p = state.paths.get(account);
  if (!p) return { path: 'none', via: null, public_relay: false, last_seen_ms: 0, check_in_ms: null };
  return p.path === 'mailbox' && !hasMailbox() ? { ...p, path: 'none' } : p;
}

/** Conversations with an offline member whom the mailbox keeps messages for. */
function mailboxChats(): string[] {
  return state.chats
    .filter((c) => c.active && (state.members.get(c.chat) ?? []).some((a) => pathOf(a).path === 'mailbox'))
    .map((c) => c.chat);
}

function touch(chatId: string) {
  const c = state.chats.find((x) => x.chat === chatId);
  const list = state.messages.get(chatId) ?? [];
  const last = list[list.length - 1];
  if (!c || !last) return;
  c.last_at = last.sent_at;
  c.last_at_ms = last.sent_at_ms;
  c.last_message = { id: last.id, author: last.author, preview: last.body.slice(0, 80), deleted: last.deleted, kind: last.kind, attachment: last.attachment?.kind ?? null };
}

// --- events ---------------------------------------------------------------------------------

const callbacks = new Map<number, (x: Any) => void>();
const listeners = new Map<string, number[]>();
let nextCb = 1;

function emit(payload: HearthEvent) {
  for (const id of listeners.get('hearth://event') ?? []) {
    callbacks.get(id)?.({ event: 'hearth://event', id, payload });
  }
}

/** Like the network: my message is delivered and read (and answered), or waits in a mailbox. */
function progressDelivery(m: Message, c: string, answer: string) {
  if (mailboxChats().includes(c)) {
    // Someone in it is offline: the relay's mailbox takes it, and it waits there.
    setTimeout(() => {
      m.status = 'in_mailbox';
      emit({ event: 'delivery_changed', chat: c });
    }, 1500);
    return;
  }
  setTimeout(() => {
    m.status = 'delivered';
    emit({ event: 'delivery_changed', chat: c });
  }, 1500);
  setTimeout(() => {
    m.status = 'read';
    emit({ event: 'delivery_changed', chat: c });
    const peer = state.chats.find((x) => x.chat === c)?.peer;
    if (peer) {
      const r = msg(c, peer, answer, Date.now());
      touch(c);
      state.chats.find((x) => x.chat === c)!.unread++;
      emit({ event: 'message_received', chat: c, message: r.id });
      emit({ event: 'chats_changed' });
    }
  }, 3000);
}

const fail = (kind: string, message: string) => Promise.reject({ kind, message });

function findMsg(id: string): Message | null {
  for (const list of state.messages.values()) {
    const m = list.find((x) => x.id === id);
    if (m) return m;
  }
  return null;
}

function lowerBound(list: Message[], before: number) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].sent_at < before) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

const commands: Record<string, (a: Any) => Any> = {
  profile: (): Profile | null => state.profile,
  create_profile: ({ name }): Profile | Promise<never> => {
    if (!name?.trim()) return fail('invalid', 'A name is needed.');
    state.profile = { name, account: hex(1, 64), device: hex(2, 64) };
    return state.profile;
  },
  set_name: ({ name }) => {
    state.profile!.name = name;
    emit({ event: 'profile_changed' });
  },
  chats: (): Chat[] => [...state.chats].sort((a, b) => b.last_at - a.last_at),
  messages: ({ chat: c, limit, before }): Message[] | Promise<never> => {
    const list = state.messages.get(c);
    if (!list) return fail('not_found', 'No such conversation.');
    const end = before == null ? list.length : lowerBound(list, before);
    return clone(list.slice(Math.max(0, end - limit), end));
  },
  send_message: ({ chat: c, body, replyTo }) => {
    const m = msg(c, me(), body, Date.now(), 0, { status: 'queued', reply_to: replyTo ?? null });
    touch(c);
    emit({ event: 'messages_changed', chat: c });
    emit({ event: 'chats_changed' });
    progressDelivery(m, c, `Got it: “${body.slice(0, 30)}”`);
    return m.id;
  },
  send_attachment: ({ body, headers }) => sendAttachment(body, headers),
  blob_bytes: ({ blob }) => {
    const found = findBlob(blob);
    const bytes = state.blobs.get(blob);
    if (!found || !bytes || found.a.state.state !== 'complete') {
      return fail('not_found', 'That file is not on this device yet.');
    }
    return bytes.slice().buffer;
  },
  fetch_blob: ({ blob }) => {
    if (!findBlob(blob)) return fail('not_found', 'No such file.');
    downloadBlob(blob);
  },
  save_blob: ({ blob }) => {
    const found = findBlob(blob);
    if (!found || found.a.state.state !== 'complete') return fail('not_found', 'That file is not on this device yet.');
    return `/home/mi-ja/Downloads/${uniqueName(found.a.name)}`;
  },
  set_fetch_media_everywhere: ({ enabled }) => {
    state.settings.fetch_media_everywhere = enabled;
    if (!enabled) return;
    // Photos and voice messages waiting for a tap now come by themselves.
    for (const list of state.messages.values()) {
      for (const m of list) {
        const a = m.attachment;
        if (a && a.kind !== 'file' && a.state.state === 'preview_only') downloadBlob(a.blob);
      }
    }
  },
  edit_message: ({ message, body }) => {
    const m = findMsg(message);
    if (!m) return fail('not_found', 'No such message.');
    m.body = body;
    m.edited_at = hlc(Date.now());
    emit({ event: 'messages_changed', chat: m.chat });
  },
  delete_message: ({ message }) => {
    const m = findMsg(message);
    if (!m) return fail('not_found', 'No such message.');
    m.deleted = true;
    m.body = '';
    touch(m.chat);
    emit({ event: 'messages_changed', chat: m.chat });
  },
  react: ({ message, emoji }) => {
    const m = findMsg(message);
    if (!m) return fail('not_found', 'No such message.');
    m.reactions = m.reactions.filter(([a]) => a !== me());
    if (emoji) m.reactions.push([me(), emoji]);
    emit({ event: 'messages_changed', chat: m.chat });
  },
  mark_read: ({ chat: c }) => {
    const ch = state.chats.find((x) => x.chat === c);
    if (ch && ch.unread) {
      ch.unread = 0;
      emit({ event: 'chats_changed' });
    }
  },
  search_messages: ({ query, chat: c }): Message[] => {
    const q = query.toLowerCase();
    const out: Message[] = [];
    for (const [id, list] of state.messages) {
      if (c && id !== c) continue;
      for (let i = list.length - 1; i >= 0 && out.length < 50; i--) {
        if (!list[i].deleted && list[i].body.toLowerCase().includes(q)) out.push(list[i]);
      }
    }
    return clone(out);
  },
  create_invite: (): InviteCode => {
    const code = 'HEARTH1-' + 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPIYTEMZUGU3DOOBZ'.repeat(3);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><rect width="21" height="21" fill="#fff"/><rect x="1" y="1" width="7" height="7"/><rect x="13" y="1" width="7" height="7"/><rect x="1" y="13" width="7" height="7"/><rect x="10" y="10" width="3" height="3"/></svg>`;
    return { code, qr_svg: svg };
  },
  accept_invite: ({ code }): Contact | Promise<never> => {
    if (!code.startsWith('HEARTH1-') || code.length < 20) return fail('invalid', 'This is not a valid invite code.');
    const c = contact(state.contacts.length + 10, 'New cousin', 'connected', 'direct');
    c.chat = chat('direct', c.name, c.account, [c.account]);
    emit({ event: 'contacts_changed' });
    emit({ event: 'chats_changed' });
    return c;
  },
  invite_relays: (): string[] => [],
  contacts: (): Contact[] => clone(state.contacts),
  set_verified: ({ account, verified }) => {
    state.contacts.find((c) => c.account === account)!.verified = verified;
    emit({ event: 'contacts_changed' });
  },
  create_group: ({ title, members }) => {
    const id = chat('group', title, null, members);
    emit({ event: 'chats_changed' });
    return id;
  },
  members: ({ chat: c }): Member[] =>
    (state.members.get(c) ?? []).map((a: string) => ({
      account: a,
      name: a === me() ? state.profile!.name : state.contacts.find((x) => x.account === a)?.name ?? '?',
      me: a === me(),
    })),
  add_member: ({ chat: c, account }) => {
    state.members.get(c)!.push(account);
    emit({ event: 'chats_changed' });
  },
  remove_member: ({ chat: c, account }) => {
    state.members.set(c, state.members.get(c)!.filter((a: string) => a !== account));
    emit({ event: 'chats_changed' });
  },
  rename_group: ({ chat: c, title }) => {
    state.chats.find((x) => x.chat === c)!.title = title;
    emit({ event: 'chats_changed' });
  },
  leave_group: ({ chat: c }) => {
    state.chats.find((x) => x.chat === c)!.active = false;
    emit({ event: 'chats_changed' });
  },
  family_board: (): Board => ({
    my_check_in_ms: state.myCheckIn,
    entries: state.contacts
      .filter((c) => c.state === 'connected')
      .map((c) => {
        const p = pathOf(c.account);
        const waiting = p.path === 'none' || p.path === 'mailbox' ? 3 : 0;
        return { account: c.account, name: c.name, ...p, waiting };
      }),
  }),
  check_in: () => {
    state.myCheckIn = Date.now();
    for (const c of state.chats) {
      if (!c.active) continue;
      msg(c.chat, me(), '', Date.now(), 0, { kind: 'check_in', status: 'queued' });
      touch(c.chat);
      emit({ event: 'messages_changed', chat: c.chat });
    }
    emit({ event: 'chats_changed' });
  },
  settings: (): Settings => clone(state.settings),
  set_lan_only: ({ enabled }) => {
    state.settings.lan_only = enabled;
    restartNetwork();
  },
  set_relays: ({ relays }) => {
    if (relays.some((r: string) => !r.startsWith('/') || !/\/p2p\/\w+/.test(r))) {
      return fail('invalid', 'not a relay address (expected something like /ip4/203.0.113.5/tcp/4001/p2p/12D3…)');
    }
    state.settings.relays = relays;
    restartNetwork();
  },
  set_relay_for_family: ({ enabled }) => {
    state.settings.relay_for_family = enabled;
    restartNetwork();
  },
  set_public_network: ({ enabled }) => {
    state.settings.public_network = enabled;
    restartNetwork();
  },
  set_nostr: ({ enabled }) => {
    state.settings.nostr = enabled;
    restartNetwork();
  },
  set_nostr_relays: ({ relays }) => {
    const list = (relays as string[]).map((r) => r.trim()).filter(Boolean);
    const wrong = list.find((r) => !/^wss?:\/\/[^\s/]+/.test(r));
    if (wrong) {
      return fail('invalid', `not a Nostr relay address: ${wrong} (expected something like wss://relay.example.org)`);
    }
    state.settings.nostr_relays = list.length > 0 ? list : [...MAILBOX_RELAYS];
    restartNetwork();
  },
  mailbox_relays: () => {
    if (!state.profile || state.settings.lan_only || !state.settings.nostr) return null;
    return {
      relays: state.settings.nostr_relays.map((url: string, i: number) => ({
        url: `${url}/`,
        connected: i !== 1,
        accepted: i !== 1 ? 2 : 0,
        refused: 0,
        dropped: 0,
        fetched_at: i !== 1 ? Math.floor(Date.now() / 1000) - 60 : null,
        error: i !== 1 ? null : 'connection refused',
      })),
      retrying: 0,
    };
  },
  set_language: () => {},
  autostart: () => state.autostart,
  set_autostart: ({ enabled }) => {
    state.autostart = enabled;
  },
  network_status: (): NetworkStatus | null => {
    if (!state.profile) return null;
    const kept = mailboxChats().length;
    return {
      device: state.profile.device,
      listen: ['/ip4/192.168.1.20/tcp/4001', '/ip4/192.168.1.20/udp/4001/quic-v1'],
      lan_only: state.settings.lan_only,
      peers: [],
      relays: state.settings.lan_only
        ? []
        : [...state.settings.relays].sort().map((addr: string) => {
            const live = state.relayLive.get(addr) ?? { connected: false, reserved: false };
            const error = live.connected ? null : 'no answer from it (connection refused)';
            return { addr, ...live, kept: live.connected ? kept : 0, mailbox: true, public: false, error };
          }),
      public:
        state.settings.lan_only || !state.settings.public_network
          ? null
          : { dht_mode: 'client', connected: 23, dht_peers: 17, relay_candidates: 4, problem: null },
      public_mailboxes: !state.settings.lan_only && state.settings.nostr,
    };
  },
  'plugin:event|listen': ({ event, handler }) => {
    listeners.set(event, [...(listeners.get(event) ?? []), handler]);
    return handler;
  },
  'plugin:event|unlisten': ({ event, eventId }) => {
    listeners.set(event, (listeners.get(event) ?? []).filter((h) => h !== eventId));
  },
};

seed();

(window as Any).__TAURI_INTERNALS__ = {
  transformCallback(cb: (x: Any) => void) {
    const id = nextCb++;
    callbacks.set(id, cb);
    return id;
  },
  unregisterCallback(id: number) {
    callbacks.delete(id);
  },
  async invoke(cmd: string, args: Any, options?: { headers?: HeadersInit }) {
    const f = commands[cmd];
    if (!f) throw { kind: 'unavailable', message: `The mock has no command ${cmd}.` };
    if (failing.has(cmd)) throw { kind: 'storage', message: `opening database: disk I/O error (mock, ${cmd})` };
    // Raw bytes go as they are, with their headers (send_attachment); everything else makes a
    // round trip through JSON, like the real IPC.
    const raw = args instanceof Uint8Array || args instanceof ArrayBuffer;
    const input = raw
      ? { body: new Uint8Array(args), headers: new Headers(options?.headers) }
      : args
        ? JSON.parse(JSON.stringify(args))
        : {};
    const out = await f(input);
    if (out instanceof ArrayBuffer) return out;
    return out === undefined ? null : JSON.parse(JSON.stringify(out));
  },
  metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
};
(window as Any).__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
(window as Any).hearthMock = { state, emit, failing, damage, downloadBlob };
