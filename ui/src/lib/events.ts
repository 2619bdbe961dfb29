// What to re-read when the shell reports a change. Events carry ids only; bursts (a catch-up
// of thousands of messages) are coalesced so each view re-reads at most once per tick.

import type { HearthEvent } from '../api';

/**
 * What a view shows and may need to re-read. `messages:<chat>` is one conversation; `network`
 * is the network status (relays) shown in the settings.
 */
export type Topic = 'profile' | 'contacts' | 'chats' | 'board' | 'network' | `messages:${string}`;

export function topicsFor(e: HearthEvent): Topic[] {
  switch (e.event) {
    case 'profile_changed':
      return ['profile', 'board'];
    case 'contacts_changed':
      return ['contacts', 'chats', 'board'];
    case 'chats_changed':
      return ['chats'];
    case 'messages_changed':
      return [`messages:${e.chat}`, 'chats'];
    case 'message_received':
      return [`messages:${e.chat}`, 'chats', 'board'];
    case 'delivery_changed':
      return [`messages:${e.chat}`, 'board'];
    case 'path_changed':
      return ['board', 'chats'];
    case 'board_changed':
      return ['board', 'chats'];
    case 'relay_changed':
      // Reachability through a relay, and mailboxes, shape the board (and the chat dots).
      return ['network', 'board'];
    case 'envelopes_added':
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
