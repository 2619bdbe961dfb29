import { describe, expect, it } from 'vitest';
import type { BoardEntry, Member, Path } from '../api';
import {
  boardIndex,
  bestPath,
  chatPath,
  chatReach,
  asPath,
  isReachable,
  reachTier,
  reachWords,
  PATHS,
} from './reach';

function entry(account: string, path: Path, e: Partial<BoardEntry> = {}): BoardEntry {
  return { account, name: account, path, via: null, public_relay: false, last_seen_ms: 0, waiting: 0, check_in_ms: null, ...e };
}

const board = boardIndex([entry('gran', 'mesh'), entry('dad', 'lan'), entry('kid', 'none'), entry('aunt', 'relayed')]);
const member = (account: string, me = false): Member => ({ account, name: account, me });

describe('chat reachability', () => {
  it('takes a direct chat from its peer', () => {
    expect(chatPath({ kind: 'direct', peer: 'dad', active: true }, board)).toBe('lan');
    expect(chatPath({ kind: 'direct', peer: 'kid', active: true }, board)).toBe('none');
    expect(chatPath({ kind: 'direct', peer: 'stranger', active: true }, board)).toBe('none');
    expect(chatPath({ kind: 'direct', peer: null, active: true }, board)).toBe('none');
  });

  it('makes a group reachable if any other member is, by the best path', () => {
    const members = [member('me', true), member('kid'), member('gran'), member('aunt')];
    expect(chatPath({ kind: 'group', peer: null, active: true }, board, members)).toBe('relayed');
    expect(
      chatPath({ kind: 'group', peer: null, active: true }, board, [member('kid'), member('dad')]),
    ).toBe('lan');
  });

  it('is grey for a group nobody can reach, or whose members are unknown', () => {
    expect(
      chatPath({ kind: 'group', peer: null, active: true }, board, [member('me', true), member('kid')]),
    ).toBe('none');
    expect(chatPath({ kind: 'group', peer: null, active: true }, board)).toBe('none');
  });

  it('ignores me in a group', () => {
    const b = boardIndex([entry('me', 'lan')]);
    expect(chatPath({ kind: 'group', peer: null, active: true }, b, [member('me', true)])).toBe('none');
  });

  it('is grey for a conversation I left', () => {
    expect(chatPath({ kind: 'direct', peer: 'dad', active: false }, board)).toBe('none');
  });

  it('ranks paths and reads unknown ones as none', () => {
    expect(bestPath('mesh', 'direct')).toBe('direct');
    expect(bestPath('none', 'relayed')).toBe('relayed');
    expect(asPath('bluetooth')).toBe('none');
    expect(isReachable('mesh')).toBe(true);
    expect(isReachable('none')).toBe(false);
  });

  it('ranks a mailbox below every live path but above nothing', () => {
    expect(PATHS).toEqual(['lan', 'direct', 'relayed', 'mesh', 'mailbox', 'none']);
    expect(bestPath('mailbox', 'none')).toBe('mailbox');
    expect(bestPath('none', 'mailbox')).toBe('mailbox');
    expect(bestPath('mailbox', 'mesh')).toBe('mesh');
    expect(bestPath('relayed', 'mailbox')).toBe('relayed');
    expect(asPath('mailbox')).toBe('mailbox');
    expect(isReachable('mailbox')).toBe(false);
    expect(isReachable('relayed')).toBe(true);
    expect([...PATHS].map(reachTier)).toEqual([0, 0, 0, 0, 1, 2]);
  });

  it('shows a group whose only way is a mailbox as mailbox', () => {
    const b = boardIndex([entry('kid', 'none'), entry('gran', 'mailbox')]);
    expect(
      chatPath({ kind: 'group', peer: null, active: true }, b, [member('me', true), member('kid'), member('gran')]),
    ).toBe('mailbox');
    expect(chatPath({ kind: 'direct', peer: 'gran', active: true }, b)).toBe('mailbox');
  });
});

describe('the words for how someone is reached', () => {
  it('names each way in plain words', () => {
    expect(reachWords('lan', false, null)).toEqual({ key: 'path.lan' });
    expect(reachWords('direct', false, null)).toEqual({ key: 'path.direct' });
    expect(reachWords('mailbox', false, null)).toEqual({ key: 'path.mailbox' });
    expect(reachWords('none', false, null)).toEqual({ key: 'path.none' });
  });

  it('tells a stranger’s relay from the family’s own', () => {
    expect(reachWords('relayed', true, null)).toEqual({ key: 'path.relayed_public' });
    expect(reachWords('relayed', false, null)).toEqual({ key: 'path.relayed_family' });
  });

  it('says whose device carries the messages', () => {
    expect(reachWords('mesh', false, 'Grandma')).toEqual({ key: 'path.mesh_via', params: { name: 'Grandma' } });
    expect(reachWords('mesh', false, null)).toEqual({ key: 'path.mesh' });
  });

  it('ignores what does not belong to a path', () => {
    for (const p of PATHS.filter((p) => p !== 'relayed')) {
      expect(reachWords(p, true, p === 'mesh' ? 'Dad' : 'Someone')).toEqual(
        reachWords(p, false, p === 'mesh' ? 'Dad' : null),
      );
    }
  });

  it('gives different words to every way', () => {
    const keys = PATHS.flatMap((p) => [reachWords(p, false, null).key, reachWords(p, true, 'X').key]);
    expect(new Set(keys).size).toBe(8);
  });
});

describe('how a chat’s people are reached', () => {
  const b = boardIndex([
    entry('gran', 'mesh', { via: 'Dad' }),
    entry('aunt', 'relayed', { public_relay: true }),
    entry('uncle', 'relayed'),
    entry('kid', 'none'),
  ]);

  it('takes a direct chat’s way from its peer, with whose device and which relay', () => {
    expect(chatReach({ kind: 'direct', peer: 'gran', active: true }, b)).toEqual({
      path: 'mesh',
      publicRelay: false,
      via: 'Dad',
    });
    expect(chatReach({ kind: 'direct', peer: 'aunt', active: true }, b)).toEqual({
      path: 'relayed',
      publicRelay: true,
      via: null,
    });
    expect(chatReach({ kind: 'direct', peer: 'nobody', active: true }, b).path).toBe('none');
    expect(chatReach({ kind: 'direct', peer: 'aunt', active: false }, b).path).toBe('none');
  });

  it('prefers the family’s relay to a stranger’s in a group, and names nobody’s device', () => {
    const group = { kind: 'group' as const, peer: null, active: true };
    const all = [member('me', true), member('aunt'), member('uncle'), member('kid')];
    expect(chatReach(group, b, all)).toEqual({ path: 'relayed', publicRelay: false, via: null });
    expect(chatReach(group, b, [member('aunt'), member('kid')])).toEqual({
      path: 'relayed',
      publicRelay: true,
      via: null,
    });
    expect(chatReach(group, b, [member('gran'), member('kid')])).toEqual({ path: 'mesh', publicRelay: false, via: null });
  });
});
