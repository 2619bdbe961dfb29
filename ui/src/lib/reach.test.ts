import { describe, expect, it } from 'vitest';
import type { BoardEntry, Member, Path } from '../api';
import { boardIndex, bestPath, chatPath, asPath, isReachable, reachTier, PATHS } from './reach';

function entry(account: string, path: Path): BoardEntry {
  return { account, name: account, path, via: null, last_seen_ms: 0, waiting: 0, check_in_ms: null };
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
