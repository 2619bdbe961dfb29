// Generated from the Rust types by core/src/ui_types.rs: do not edit.
// Regenerate with `UPDATE_UI_TYPES=1 cargo test -p hearth-core --lib ui_types`.

export type Profile = { name: string, account: string, device: string, };

export type Chat = { chat: string, kind: ChatKind, title: string, unread: number, last_at: number, 
/**
 * `last_at` as Unix milliseconds, for display (HLC values exceed JavaScript's safe integers).
 */
last_at_ms: number, last_message: LastMessage | null, 
/**
 * False once this device left or was removed.
 */
active: boolean, 
/**
 * For 1:1 conversations: the other person.
 */
peer: string | null, 
/**
 * Messages whose sender key never arrived although the sender's later keys did (see
 * `engine::ingest`); they are tried again if the key comes. Messages from before this
 * device joined are not counted: nobody was meant to share those keys with it.
 */
undecryptable: number, };

/**
 * A conversation with one contact, or a group.
 */
export type ChatKind = "direct" | "group";

export type LastMessage = { id: string, author: string, preview: string, deleted: boolean, kind: MessageKind, 
/**
 * What it carries, if anything: the UI words it ("📷 Photo") when there is no caption.
 */
attachment: AttachmentKind | null, };

export type Member = { account: string, name: string, me: boolean, };

export type Message = { id: string, chat: string, author: string, author_name: string, mine: boolean, 
/**
 * Hybrid-logical-clock time; `sent_at_ms` is its wall-clock part.
 */
sent_at: number, sent_at_ms: number, body: string, reply_to: string | null, edited_at: number | null, deleted: boolean, kind: MessageKind, 
/**
 * (account, emoji), sorted by account.
 */
reactions: Array<[string, string]>, 
/**
 * For my own messages, the delivery state.
 */
status: DeliveryState | null, 
/**
 * For my own messages: the state per member (account, state).
 */
receipts: Array<[string, MemberState]>, 
/**
 * For my own messages not yet on every member's device: the public mailbox relays
 * (Nostr, `wss://…`) that acknowledged holding it, where it waits.
 */
mailboxes: Array<string>, 
/**
 * A photo, voice message or file, with how much of it is here.
 */
attachment: Attachment | null, };

/**
 * What a message is. Fixed when it is sent; an edit changes only the body.
 */
export type MessageKind = "text" | "check_in";

/**
 * Where one of my messages is, as the sender sees it. In order of progress.
 */
export type DeliveryState = "queued" | "handed_on" | "in_mailbox" | "delivered" | "read";

/**
 * Where one member's devices are with one of my messages, from their receipts.
 */
export type MemberState = "queued" | "delivered" | "read";

/**
 * A message's attachment, as the UI and `hearth messages` show it.
 */
export type Attachment = { blob: string, kind: AttachmentKind, name: string, mime: string, size: number, 
/**
 * A `data:` URL of the preview (a small JPEG), for photos.
 */
preview: string | null, width: number | null, height: number | null, duration_ms: number | null, 
/**
 * A voice message's loudness over time, 0..=255.
 */
waveform: Array<number>, state: BlobState, };

/**
 * What a blob is, for how it is shown.
 */
export type AttachmentKind = "photo" | "voice" | "file";

/**
 * How much of a blob is on this device.
 */
export type BlobState = { "state": "preview_only" } | { "state": "downloading", have: number, of: number, } | { "state": "complete" } | { "state": "damaged", reason: string, };

export type Contact = { account: string, 
/**
 * The nickname we gave them, or else their own name.
 */
name: string, own_name: string, state: ContactState, 
/**
 * Why the inviter's device refused our request, as a sentence.
 */
refused: string | null, verified: boolean, blocked: boolean, safety_number: string, chat: string | null, 
/**
 * One of their devices sent two different envelopes under one number: it is forked or
 * its keys were copied. The first is kept; the person should check their devices.
 */
equivocated: boolean, };

/**
 * Where a contact is in the invite handshake.
 */
export type ContactState = "pending" | "connected" | "refused";

/**
 * A code as the app shows it: the text, and the same text as a QR code.
 */
export type InviteCode = { code: string, 
/**
 * A complete `<svg>` document.
 */
qr_svg: string, };

export type Board = { 
/**
 * When I last checked in (Unix milliseconds).
 */
my_check_in_ms: number | null, entries: Array<BoardEntry>, };

export type BoardEntry = { account: string, name: string, path: Path, 
/**
 * For mesh: the member whose device carries the messages.
 */
via: string | null, 
/**
 * Relayed through a stranger's relay found on the public network, not the family's.
 */
public_relay: boolean, 
/**
 * Unix milliseconds; 0 if never seen.
 */
last_seen_ms: number, 
/**
 * My messages that none of their devices has confirmed yet.
 */
waiting: number, 
/**
 * Their latest check-in (Unix milliseconds).
 */
check_in_ms: number | null, };

/**
 * How a contact (or one of their devices) is reached right now, best first: a device's
 * [`net::Path`] without the device that carries it.
 */
export type Path = "lan" | "direct" | "relayed" | "mesh" | "mailbox" | "none";

export type Settings = { 
/**
 * Make no connection outside local networks.
 */
lan_only: boolean, 
/**
 * Relay peers as multiaddrs (with `/p2p/<id>`).
 */
relays: Array<string>, 
/**
 * Serve as a relay and mailbox for the family (port 4001; the device must stay on and be
 * reachable).
 */
relay_for_family: boolean, 
/**
 * "Find family through the public internet": the public IPFS/libp2p network (its DHT and
 * public relays), on unless turned off. Public nodes then see this device's IP address
 * and that it looks for someone, never who or what it says.
 */
public_network: boolean, 
/**
 * "Leave messages in public mailboxes": envelopes for family not reached directly wait on
 * public Nostr relays (`crate::nostr`), sealed under throwaway keys. On unless turned off.
 */
nostr: boolean, 
/**
 * The Nostr relays used as mailboxes (`wss://…`): the bundled list unless edited.
 */
nostr_relays: Array<string>, 
/**
 * Download photos and voice messages by themselves over every connection. Off: only over
 * the LAN; elsewhere (relays, the internet, a phone's data plan) when tapped.
 */
fetch_media_everywhere: boolean, };

export type NetworkStatus = { device: string, listen: Array<string>, lan_only: boolean, 
/**
 * Per-device paths; the UI does not read them.
 */
peers: unknown[], 
/**
 * Empty in LAN-only mode (relays are not used).
 */
relays: Array<RelayStatus>, 
/**
 * The public network plane; None when it is off (LAN-only mode, or turned off).
 */
public: PublicStatus | null, 
/**
 * Public mailboxes (Nostr relays, `crate::nostr`) are in use and one is connected: a
 * device with no path is still reached through them.
 */
public_mailboxes: boolean, };

/**
 * One configured relay, as this node sees it.
 */
export type RelayStatus = { addr: string, 
/**
 * A connection to it is open.
 */
connected: boolean, 
/**
 * It holds a reservation for us: family can reach us through it.
 */
reserved: boolean, 
/**
 * Its mailbox keeps this many of our topics.
 */
kept: number, 
/**
 * It offers a mailbox (false for a stock libp2p relay, and for public relays).
 */
mailbox: boolean, 
/**
 * A public relay found on the public network (no mailbox; limited circuits), not one
 * the family configured.
 */
public: boolean, 
/**
 * Why the last attempt to reach it or reserve on it failed, in words (shown by
 * `hearth status` and the app, not only in a debug log).
 */
error: string | null, };

/**
 * The public network plane, as this node sees it.
 */
export type PublicStatus = { 
/**
 * "client" behind NAT (the normal case), "server" once AutoNAT confirmed a direct public
 * address.
 */
dht_mode: string, 
/**
 * Public peers connected right now.
 */
connected: number, 
/**
 * Public peers identified as speaking the DHT, and as offering relay service.
 */
dht_peers: number, relay_candidates: number, 
/**
 * Why the public network cannot be reached, if it cannot.
 */
problem: string | null, };

/**
 * The mailbox relays and how each is doing.
 */
export type MailboxRelaysStatus = { relays: Array<MailboxRelayStatus>, 
/**
 * Envelopes this device deposited that fewer than [`WANT_RELAYS`] relays hold yet.
 */
retrying: number, };

/**
 * One Nostr relay used as a mailbox.
 */
export type MailboxRelayStatus = { url: string, connected: boolean, 
/**
 * Events it acknowledged (`OK`) since the start.
 */
accepted: number, 
/**
 * Events it refused or did not acknowledge in time.
 */
refused: number, 
/**
 * Events from it that were not ours or not valid (a stranger's under a guessed tag,
 * garbage, oversize), dropped.
 */
dropped: number, 
/**
 * Unix seconds of the last complete fetch from it.
 */
fetched_at: number | null, 
/**
 * What went wrong last, in words.
 */
error: string | null, };

export type HearthEvent = { "event": "profile_changed" } | { "event": "contacts_changed" } | { "event": "chats_changed" } | { "event": "messages_changed", chat: string, } | { "event": "message_received", chat: string, message: string, } | { "event": "envelopes_added", topic: string, } | { "event": "path_changed", device: string, path: Path, } | { "event": "delivery_changed", chat: string, } | { "event": "relay_changed" } | { "event": "hole_punch", device: string, direct: boolean, } | { "event": "blob_progress", blob: string, have: number, of: number, };
