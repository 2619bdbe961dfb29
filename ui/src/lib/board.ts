// The family board's words: when a contact was last seen, and the check-ins banner (how they
// are reached is `reachWords` in reach.ts).

import type { Board, BoardEntry, Path } from '../api';
import { reachTier } from './reach';
import { formatRelative } from './time';

/** "Seen 3 minutes ago" / "Never seen"; `justNow` and `never` are translated words. */
export function lastSeenText(
  lastSeenMs: number,
  now: number,
  locale: string,
  words: { justNow: string; never: string },
): string {
  if (!lastSeenMs) return words.never;
  return formatRelative(lastSeenMs, now, locale, words.justNow);
}

export type CheckInItem = { account: string; name: string; at: number; mine: boolean };

/** Everyone's latest check-in (mine included), newest first. */
export function checkIns(board: Board, me: { account: string; name: string }): CheckInItem[] {
  const items: CheckInItem[] = [];
  if (board.my_check_in_ms != null) {
    items.push({ account: me.account, name: me.name, at: board.my_check_in_ms, mine: true });
  }
  for (const e of board.entries) {
    if (e.check_in_ms != null) {
      items.push({ account: e.account, name: e.name, at: e.check_in_ms, mine: false });
    }
  }
  return items.sort((a, b) => b.at - a.at);
}

/** The "now" line of a board entry: reachable, only through a mailbox, or not at all. */
export function nowKey(path: Path): string {
  return ['board.reachable', 'board.mailbox_only', 'board.unreachable'][reachTier(path)];
}

/** Reachable people first, then those a mailbox keeps messages for, then by name. */
export function sortEntries(entries: readonly BoardEntry[], locale: string): BoardEntry[] {
  const collator = new Intl.Collator(locale);
  return [...entries].sort(
    (a, b) => reachTier(a.path) - reachTier(b.path) || collator.compare(a.name, b.name),
  );
}
