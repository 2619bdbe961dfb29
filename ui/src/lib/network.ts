// The settings screen's words about the network: how each configured relay is doing right now
// (and why it could not be reached), and how the public network is doing, from the shell's
// network status (see CONTRACT.md, `network_status`).

import type { NetworkStatus, RelayStatus } from '../api';

/**
 * How one relay is doing: `unused` in LAN-only mode, `not_connected`, `connected`, or
 * `reachable` (it holds a reservation, so family can reach this device through it).
 */
export type RelayState = 'unused' | 'not_connected' | 'connected' | 'reachable';

export type RelayLabel = {
  state: RelayState;
  /** Translation key of the words for `state`. */
  key: string;
  /** What it does with messages for family who are offline, if there is something to say. */
  mailbox: MailboxWords | null;
};

/**
 * The words about a relay's mailbox: `keeps` how many of our conversations (`key` is plural,
 * by `count`), or `none`, for a relay that offers no mailbox (a stock libp2p relay, such as a
 * Kubo node): it passes messages on, but keeps none for family who are offline.
 */
export type MailboxWords =
  | { kind: 'keeps'; key: string; count: number }
  | { kind: 'none'; key: string; count: null };

export const MAILBOX_KEPT_KEY = 'settings.relay_kept';
export const NO_MAILBOX_KEY = 'settings.relay_no_mailbox';

const KEYS: Record<RelayState, string> = {
  unused: 'settings.relay_state.unused',
  not_connected: 'settings.relay_state.not_connected',
  connected: 'settings.relay_state.connected',
  reachable: 'settings.relay_state.reachable',
};

export const RELAY_STATES = Object.keys(KEYS) as RelayState[];

export function relayStateKey(state: RelayState): string {
  return KEYS[state];
}

/**
 * The label of a relay's live state. `status` is undefined when the network does not know the
 * relay (networking is off, or has not picked up the setting yet): it is not connected.
 */
export function relayLabel(status: RelayStatus | undefined, lanOnly: boolean): RelayLabel {
  const state: RelayState = lanOnly
    ? 'unused'
    : !status?.connected
      ? 'not_connected'
      : status.reserved
        ? 'reachable'
        : 'connected';
  return { state, key: KEYS[state], mailbox: mailboxWords(status, state) };
}

/**
 * What to say about a relay's mailbox in the state it is in. A relay without one says so
 * whenever it is in use (once it has answered that it has none, that stays true while it is
 * away); a count of kept conversations only while connected and keeping some. Nothing in
 * LAN-only mode, for a relay the network does not know, or before its mailbox keeps anything.
 */
export function mailboxWords(status: RelayStatus | undefined, state: RelayState): MailboxWords | null {
  if (!status || state === 'unused') return null;
  if (!status.mailbox) return { kind: 'none', key: NO_MAILBOX_KEY, count: null };
  const connected = state === 'connected' || state === 'reachable';
  return connected && status.kept > 0 ? { kind: 'keeps', key: MAILBOX_KEPT_KEY, count: status.kept } : null;
}

/** The peer id at the end of a relay address (`…/p2p/12D3…`), if it names one. */
export function relayPeer(addr: string): string | null {
  const parts = addr.trim().split('/');
  const i = parts.lastIndexOf('p2p');
  return i >= 0 && parts[i + 1] ? parts[i + 1] : null;
}

/** The network's view of a configured relay: the same address, or else the same peer id. */
export function findRelay(
  addr: string,
  relays: readonly RelayStatus[],
): RelayStatus | undefined {
  const a = addr.trim();
  const exact = relays.find((r) => r.addr === a);
  if (exact) return exact;
  const peer = relayPeer(a);
  return peer ? relays.find((r) => relayPeer(r.addr) === peer) : undefined;
}

/**
 * One configured relay: its address, its state, and why the last attempt to reach it (or be
 * reachable through it) failed, while that still matters (not when unused or reachable).
 */
export type RelayRow = { addr: string; error: string | null } & RelayLabel;

/**
 * One row per configured relay, in the order they were set. LAN-only mode comes from the
 * settings (what was asked for) or the network (what it runs under).
 */
export function relayRows(
  configured: readonly string[],
  status: NetworkStatus | null,
  lanOnly: boolean,
): RelayRow[] {
  const off = lanOnly || (status?.lan_only ?? false);
  return configured.map((addr) => {
    const live = findRelay(addr, status?.relays ?? []);
    const label = relayLabel(live, off);
    const failing = label.state === 'not_connected' || label.state === 'connected';
    return { addr, error: failing ? (live?.error ?? null) : null, ...label };
  });
}

/**
 * How the network runs right now, as the shell reports it (`network_status`), not as the
 * settings ask: `lan_only`, `internet` (home network and the internet), `off` (networking is
 * not running), or `loading` before the first answer.
 */
export type NetworkMode = 'loading' | 'lan_only' | 'internet' | 'off';

export const NETWORK_MODES: readonly NetworkMode[] = ['loading', 'lan_only', 'internet', 'off'];

/** `status`: undefined before the first answer; null while networking is off. */
export function networkMode(status: NetworkStatus | null | undefined): NetworkMode {
  if (status === undefined) return 'loading';
  if (status === null) return 'off';
  return status.lan_only ? 'lan_only' : 'internet';
}

export function networkModeKey(mode: NetworkMode): string {
  return `settings.mode.${mode}`;
}

/**
 * How the public network (the public IPFS network, for family in other homes) is doing:
 * `off` (not used now: turned off, or this run keeps off it), `problem` (it cannot be
 * reached), `connecting` (no public computer yet), or `connected`.
 */
export type PublicState = 'off' | 'problem' | 'connecting' | 'connected';

export const PUBLIC_STATES: readonly PublicState[] = ['off', 'problem', 'connecting', 'connected'];

export type PublicLabel = {
  state: PublicState;
  /** Translation key of the words for `state`; `connected` is plural, by `count`. */
  key: string;
  /** Public computers connected now. */
  count: number;
  /** Why it cannot be reached (the core's sentence), for `problem`. */
  problem: string | null;
  /** Strangers' relays that hold a place for this device, so family can reach it. */
  relays: number;
};

export function publicStateKey(state: PublicState): string {
  return `settings.public_state.${state}`;
}

/**
 * The public network's line in the settings, or null where it has nothing to say: before
 * the first answer, while networking is off, and in LAN-only mode (the mode line says so).
 */
export function publicLabel(status: NetworkStatus | null | undefined): PublicLabel | null {
  if (!status || status.lan_only) return null;
  const p = status.public;
  const relays = status.relays.filter((r) => r.public && r.connected && r.reserved).length;
  const state: PublicState = !p ? 'off' : p.problem ? 'problem' : p.connected > 0 ? 'connected' : 'connecting';
  return {
    state,
    key: publicStateKey(state),
    count: p?.connected ?? 0,
    problem: p?.problem ?? null,
    relays: p ? relays : 0,
  };
}
