// Reachability of a chat for the chat list's dot: a direct chat takes the path of its peer's
// board entry; a group is reachable if any other member is, by the best of their paths.
// `mailbox` is not a live connection: nobody who has it is connected, but a relay's mailbox
// keeps my messages for them, which still beats nothing.

import type { BoardEntry, Chat, Member, Path } from '../api';

/** Best first. */
export const PATHS: readonly Path[] = ['lan', 'direct', 'relayed', 'mesh', 'mailbox', 'none'];

/**
 * Lower is better: a LAN path beats internet direct, which beats a relay, then the mesh; a
 * mailbox (messages wait for them) beats no way at all.
 */
const RANK: Record<Path, number> = { lan: 0, direct: 1, relayed: 2, mesh: 3, mailbox: 4, none: 5 };

export function asPath(p: string | null | undefined): Path {
  return p && p in RANK ? (p as Path) : 'none';
}

/** Connected right now, directly or through someone (a mailbox only keeps messages). */
export function isReachable(p: Path): boolean {
  return p !== 'none' && p !== 'mailbox';
}

/** 0 reachable now, 1 messages wait in a mailbox, 2 no way at all. */
export function reachTier(p: Path): number {
  return isReachable(p) ? 0 : p === 'mailbox' ? 1 : 2;
}

/** The better of two paths. */
export function bestPath(a: Path, b: Path): Path {
  return RANK[a] <= RANK[b] ? a : b;
}

export function boardIndex(entries: readonly BoardEntry[]): Map<string, BoardEntry> {
  return new Map(entries.map((e) => [e.account, e]));
}

/**
 * The path shown for a chat. `members` is only needed for groups (undefined while unknown,
 * which counts as not reachable).
 */
export function chatPath(
  chat: Pick<Chat, 'kind' | 'peer' | 'active'>,
  board: ReadonlyMap<string, BoardEntry>,
  members?: readonly Member[],
): Path {
  if (!chat.active) return 'none';
  if (chat.kind === 'direct') {
    return chat.peer ? asPath(board.get(chat.peer)?.path) : 'none';
  }
  let best: Path = 'none';
  for (const m of members ?? []) {
    if (m.me) continue;
    best = bestPath(best, asPath(board.get(m.account)?.path));
  }
  return best;
}
