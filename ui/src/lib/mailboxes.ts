// The public mailboxes (Nostr relays that keep sealed messages for family who are offline; see
// CONTRACT.md, `mailbox_relays`) in words: what the settings say about them as a whole, how
// each is doing, and where one of my messages waits. Relays are named by their host alone:
// the rest of a URL says nothing to people.

import type { MailboxRelaysStatus } from '../api';

/**
 * The mailboxes as a whole: `lan_only` (LAN-only mode never uses them), `off` (turned off),
 * `loading` (before the first answer), `not_running` (turned on, but not in use on this run:
 * Hearth is offline, or was started without them), or `in_use`.
 */
export type MailboxesState = 'lan_only' | 'off' | 'loading' | 'not_running' | 'in_use';

export const MAILBOXES_STATES: readonly MailboxesState[] = [
  'lan_only',
  'off',
  'loading',
  'not_running',
  'in_use',
];

export function mailboxesStateKey(state: MailboxesState): string {
  return `settings.mailboxes_state.${state}`;
}

/**
 * `settings` as asked for (null before they are read); `status` as the shell reports it:
 * undefined before the first answer, null while the mailboxes are not in use.
 */
export function mailboxesState(
  settings: { lan_only: boolean; nostr: boolean } | null,
  status: MailboxRelaysStatus | null | undefined,
): MailboxesState {
  if (settings?.lan_only) return 'lan_only';
  if (settings && !settings.nostr) return 'off';
  if (!settings || status === undefined) return 'loading';
  return status ? 'in_use' : 'not_running';
}

/** How one mailbox relay is doing. */
export type MailboxRelayState = 'connected' | 'not_connected';

export const MAILBOX_RELAY_STATES: readonly MailboxRelayState[] = ['connected', 'not_connected'];

export function mailboxRelayStateKey(state: MailboxRelayState): string {
  return `settings.mailbox_state.${state}`;
}

/** Plural key (by `count`): how many of my messages a relay took to keep for family. */
export const MAILBOX_ACCEPTED_KEY = 'settings.mailbox_accepted';

export type MailboxRow = {
  url: string;
  host: string;
  state: MailboxRelayState;
  /** Translation key of the words for `state`. */
  key: string;
  /** Messages it took to keep (acknowledged) since Hearth started. */
  accepted: number;
  /** What went wrong with it last, in the core's words. */
  error: string | null;
};

/** One row per mailbox relay in use, in the order they were set. */
export function mailboxRows(status: MailboxRelaysStatus): MailboxRow[] {
  return status.relays.map((r) => {
    const state: MailboxRelayState = r.connected ? 'connected' : 'not_connected';
    return {
      url: r.url,
      host: mailboxHost(r.url),
      state,
      key: mailboxRelayStateKey(state),
      accepted: r.accepted,
      error: r.error?.trim() || null,
    };
  });
}

/** `wss://relay.damus.io/` → `relay.damus.io` (with its port, if it names one). */
export function mailboxHost(url: string): string {
  try {
    return new URL(url.trim()).host || url.trim();
  } catch {
    return url.trim();
  }
}

/** The most relays named where a message waits; the others are counted. */
export const WAITING_IN_SHOWN = 3;

/**
 * Where one of my messages waits, for its details: the hosts of the first few relays that
 * hold it (comma-separated, each once) and how many more there are.
 */
export function waitingIn(
  urls: readonly string[],
  shown = WAITING_IN_SHOWN,
): { hosts: string; more: number } {
  const hosts = [...new Set(urls.map(mailboxHost))];
  return { hosts: hosts.slice(0, shown).join(', '), more: Math.max(0, hosts.length - shown) };
}

/**
 * Whether the relays in use are the saved ones (in any order; a slash at the end aside). They
 * differ when this run was given others (`hearth run --nostr-relay`, tests), or while a saved
 * change has not reached the running network.
 */
export function sameRelays(live: readonly string[], saved: readonly string[]): boolean {
  const norm = (urls: readonly string[]) => [...new Set(urls.map((u) => u.trim().replace(/\/+$/, '')))].sort().join('\n');
  return norm(live) === norm(saved);
}

/** The relay list as typed: one URL per line; blank lines and spaces around are dropped. */
export function relayList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
