import { describe, expect, it } from 'vitest';
import type { BoardEntry, Member, Path } from '../api';
import { boardIndex, bestPath, chatPath, asPath, isReachable } from './reach';

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
});
