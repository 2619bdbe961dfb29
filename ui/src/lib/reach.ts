// Reachability of a chat for the chat list's dot: a direct chat takes the path of its peer's
// board entry; a group is reachable if any other member is, by the best of their paths.
// `mailbox` is not a live connection: nobody who has it is connected, but a relay's mailbox
// keeps my messages for them, which still beats nothing. And the words for each way, for
// people who do not care about networks: same Wi-Fi, over the internet, through whose relay
// or device.

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

/** A translation key and its parameters. */
export type Phrase = { key: string; params?: Record<string, string | number> };

/** How a contact is reached: a board entry's `path`, `public_relay` and `via`, by name. */
export type Reach = { path: Path; publicRelay: boolean; via: string | null };

export const UNREACHABLE: Reach = { path: 'none', publicRelay: false, via: null };

/**
 * How a contact is reached, in words a grandparent understands: "On the same Wi-Fi", "Over
 * the internet, through a stranger's relay – still private", "Through Grandma's device"…
 * `publicRelay` (a stranger's relay found on the public network, not the family's) and `via`
 * (whose device carries the messages) only matter for their own paths.
 */
export function reachWords(path: Path, publicRelay: boolean, via: string | null): Phrase {
  switch (path) {
    case 'lan':
      return { key: 'path.lan' };
    case 'direct':
      return { key: 'path.direct' };
    case 'relayed':
      return { key: publicRelay ? 'path.relayed_public' : 'path.relayed_family' };
    case 'mesh':
      return via ? { key: 'path.mesh_via', params: { name: via } } : { key: 'path.mesh' };
    case 'mailbox':
      return { key: 'path.mailbox' };
    default:
      return { key: 'path.none' };
  }
}

/** A board entry's way (none for someone not on the board). */
export function entryReach(e: Pick<BoardEntry, 'path' | 'public_relay' | 'via'> | undefined): Reach {
  return e ? { path: asPath(e.path), publicRelay: e.public_relay, via: e.via } : UNREACHABLE;
}

/** The better of two ways: by path, and the family's own relay before a stranger's. */
export function bestReach(a: Reach, b: Reach): Reach {
  if (a.path !== b.path) return bestPath(a.path, b.path) === a.path ? a : b;
  return a.publicRelay && !b.publicRelay ? b : a;
}

export function boardIndex(entries: readonly BoardEntry[]): Map<string, BoardEntry> {
  return new Map(entries.map((e) => [e.account, e]));
}

/**
 * How a chat's people are reached: a direct chat's peer, or a group's best-reached other
 * member (whose device a group's mesh path goes through is not named: it differs by member).
 * `members` is only needed for groups (undefined while unknown, which counts as not
 * reachable).
 */
export function chatReach(
  chat: Pick<Chat, 'kind' | 'peer' | 'active'>,
  board: ReadonlyMap<string, BoardEntry>,
  members?: readonly Member[],
): Reach {
  if (!chat.active) return UNREACHABLE;
  if (chat.kind === 'direct') {
    return chat.peer ? entryReach(board.get(chat.peer)) : UNREACHABLE;
  }
  let best: Reach = UNREACHABLE;
  for (const m of members ?? []) {
    if (m.me) continue;
    best = bestReach(best, entryReach(board.get(m.account)));
  }
  return { ...best, via: null };
}

/** The path shown for a chat (see `chatReach`). */
export function chatPath(
  chat: Pick<Chat, 'kind' | 'peer' | 'active'>,
  board: ReadonlyMap<string, BoardEntry>,
  members?: readonly Member[],
): Path {
  return chatReach(chat, board, members).path;
}
