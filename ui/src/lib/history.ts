// The loaded part of a conversation's history: merging pages and refreshes, and the `before`
// cursor for the next older page.
//
// `sent_at` is a hybrid-logical-clock value (`wall ms << 16 | counter`, about 1.1e17), larger
// than JavaScript numbers hold exactly (2^53): JSON parsing rounds it to a multiple of 16.
// Sending the rounded value back as `before` could skip messages of the same millisecond, so
// the cursor is moved up by one unit of precision and the few messages that come back twice
// are merged away by id.

import type { Message } from '../api';

/** Messages per page of history (CONTRACT: pages of 50). */
export const PAGE_SIZE = 50;

/** Orders messages as the shell does: by `sent_at`, then by id. */
export function compareMessages(a: Message, b: Message): number {
  if (a.sent_at !== b.sent_at) return a.sent_at < b.sent_at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The distance between `x` and the next larger double (1 below 2^53). */
export function ulp(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2 ** 53) return 1;
  return 2 ** (Math.floor(Math.log2(ax)) - 52);
}

/**
 * A `before` for the page older than the message at `sentAt` that cannot skip a message even
 * if `sentAt` was rounded. Exact values (below 2^53) are passed through unchanged.
 */
export function safeBefore(sentAt: number): number {
  return Math.abs(sentAt) < 2 ** 53 ? sentAt : sentAt + ulp(sentAt);
}

/** Wall-clock milliseconds of an HLC value (for chats, which carry no `*_ms` time). */
export function hlcToMs(hlc: number): number {
  return Math.floor(hlc / 65536);
}

export type MergeResult = {
  messages: Message[];
  /** Ids in `incoming` that were not loaded before. */
  added: Message[];
  /** True if anything changed (new, or a loaded one replaced by a different version). */
  changed: boolean;
};

/**
 * Merges `incoming` (any order) into `loaded` (sorted, no duplicates): a message already
 * loaded is replaced by its new version in place, new ones are inserted in order. O(n + m).
 */
export function mergeMessages(loaded: Message[], incoming: Message[]): MergeResult {
  if (incoming.length === 0) return { messages: loaded, added: [], changed: false };
  const byId = new Map<string, Message>();
  for (const m of incoming) byId.set(m.id, m);
  let changed = false;
  const replaced: Message[] = new Array(loaded.length);
  for (let i = 0; i < loaded.length; i++) {
    const old = loaded[i];
    const fresh = byId.get(old.id);
    if (fresh) {
      byId.delete(old.id);
      if (sameMessage(old, fresh)) {
        replaced[i] = old;
      } else {
        changed = true;
        replaced[i] = fresh;
      }
    } else {
      replaced[i] = old;
    }
  }
  const added = [...byId.values()].sort(compareMessages);
  if (added.length === 0) return { messages: changed ? replaced : loaded, added, changed };
  const out: Message[] = new Array(replaced.length + added.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < replaced.length && j < added.length) {
    out[k++] = compareMessages(added[j], replaced[i]) < 0 ? added[j++] : replaced[i++];
  }
  while (i < replaced.length) out[k++] = replaced[i++];
  while (j < added.length) out[k++] = added[j++];
  return { messages: out, added, changed: true };
}

/** Shallow comparison of what the UI shows of a message. */
export function sameMessage(a: Message, b: Message): boolean {
  return (
    a.id === b.id &&
    a.body === b.body &&
    a.deleted === b.deleted &&
    a.edited_at === b.edited_at &&
    a.status === b.status &&
    a.author_name === b.author_name &&
    a.sent_at === b.sent_at &&
    a.kind === b.kind &&
    a.reply_to === b.reply_to &&
    JSON.stringify(a.reactions) === JSON.stringify(b.reactions) &&
    JSON.stringify(a.receipts) === JSON.stringify(b.receipts) &&
    sameAttachment(a.attachment, b.attachment)
  );
}

/** An attachment is fixed when sent except how much of its blob is here (its `state`). */
function sameAttachment(a: Message['attachment'], b: Message['attachment']): boolean {
  if (!a || !b) return a === b;
  return a.blob === b.blob && JSON.stringify(a.state) === JSON.stringify(b.state);
}
