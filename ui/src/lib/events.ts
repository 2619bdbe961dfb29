// What to re-read when the shell reports a change. Events carry ids only; bursts (a catch-up
// of thousands of messages) are coalesced so each view re-reads at most once per tick.

import type { HearthEvent } from '../api';

/**
 * What a view shows and may need to re-read. `messages:<chat>` is one conversation; `network`
 * is the network status (relays) shown in the settings.
 */
export type Topic = 'profile' | 'contacts' | 'chats' | 'board' | 'network' | `messages:${string}`;

/** Every event the shell forwards (the generated `HearthEvent`); the Record makes TypeScript check it. */
const EVENT_NAMES: Record<HearthEvent['event'], true> = {
  profile_changed: true,
  contacts_changed: true,
  chats_changed: true,
  messages_changed: true,
  message_received: true,
  envelopes_added: true,
  path_changed: true,
  delivery_changed: true,
  relay_changed: true,
  hole_punch: true,
  blob_progress: true,
};
export const HEARTH_EVENTS = Object.keys(EVENT_NAMES) as HearthEvent['event'][];

export function topicsFor(e: HearthEvent): Topic[] {
  // The board (who is reachable, my messages waiting for them, their check-ins) has no event
  // of its own: it is re-read on everything it is made of.
  switch (e.event) {
    case 'profile_changed':
      return ['profile', 'board'];
    case 'contacts_changed':
      return ['contacts', 'chats', 'board'];
    case 'chats_changed':
      // Joining, leaving or being removed from a group changes whom the board lists.
      return ['chats', 'board'];
    case 'messages_changed':
      // A message of mine now waits for someone; a check-in arrived or was synced.
      return [`messages:${e.chat}`, 'chats', 'board'];
    case 'message_received':
      return [`messages:${e.chat}`, 'chats', 'board'];
    case 'delivery_changed':
      // Receipts: fewer of my messages wait for them.
      return [`messages:${e.chat}`, 'board'];
    case 'path_changed':
      return ['board', 'chats'];
    case 'relay_changed':
      // Reachability through a relay, and mailboxes, shape the board (and the chat dots).
      return ['network', 'board'];
    case 'envelopes_added':
    case 'hole_punch':
      // A punched connection shows as its own path_changed.
      return [];
    case 'blob_progress':
      // Moves a download's bar (blobs.svelte.ts); a finished blob brings messages_changed.
      return [];
    default:
      return [];
  }
}

/** Delay that merges a burst of events into one re-read. */
export const COALESCE_MS = 120;

/**
 * Collects topics and hands them over together once no new one came for `delay` ms, or at
 * the latest after `maxDelay` ms during an endless stream.
 */
export class Coalescer {
  private pending = new Set<Topic>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstAt = 0;

  constructor(
    private readonly flush: (topics: Set<Topic>) => void,
    private readonly delay = COALESCE_MS,
    private readonly maxDelay = COALESCE_MS * 5,
    private readonly now: () => number = Date.now,
  ) {}

  add(topics: Iterable<Topic>): void {
    let any = false;
    for (const t of topics) {
      this.pending.add(t);
      any = true;
    }
    if (!any) return;
    if (this.timer === null) this.firstAt = this.now();
    else clearTimeout(this.timer);
    const waited = this.now() - this.firstAt;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.min(this.delay, this.maxDelay - waited)));
  }

  fire(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const topics = this.pending;
    this.pending = new Set();
    this.flush(topics);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }
}
