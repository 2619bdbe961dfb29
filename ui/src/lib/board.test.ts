import { describe, expect, it } from 'vitest';
import { checkIns, lastSeenText, nowKey, sortEntries } from './board';
import { formatRelative, relativeParts } from './time';
import type { BoardEntry } from '../api';

const NOW = Date.UTC(2025, 2, 3, 12, 0, 0);
const words = { justNow: 'just now', never: 'never' };

describe('board reachability', () => {
  it('says whether someone is reachable now, or only through a mailbox', () => {
    expect(nowKey('lan')).toBe('board.reachable');
    expect(nowKey('relayed')).toBe('board.reachable');
    expect(nowKey('mesh')).toBe('board.reachable');
    expect(nowKey('mailbox')).toBe('board.mailbox_only');
    expect(nowKey('none')).toBe('board.unreachable');
  });
});

describe('last seen', () => {
  it('says never for 0', () => {
    expect(lastSeenText(0, NOW, 'en', words)).toBe('never');
  });

  it('says just now for the last few seconds', () => {
    expect(lastSeenText(NOW - 10_000, NOW, 'en', words)).toBe('just now');
  });

  it('speaks in minutes, hours and days, localised', () => {
    expect(lastSeenText(NOW - 5 * 60_000, NOW, 'en', words)).toBe('5 minutes ago');
    expect(lastSeenText(NOW - 3 * 3600_000, NOW, 'en', words)).toBe('3 hours ago');
    expect(lastSeenText(NOW - 24 * 3600_000, NOW, 'en', words)).toBe('yesterday');
    expect(lastSeenText(NOW - 5 * 60_000, NOW, 'ko', words)).toBe('5분 전');
    expect(lastSeenText(NOW - 24 * 3600_000, NOW, 'ko', words)).toBe('어제');
  });

  it('picks the largest whole unit', () => {
    expect(relativeParts(NOW - 90_000, NOW)).toEqual({ value: -1, unit: 'minute' });
    expect(relativeParts(NOW - 8 * 86_400_000, NOW)).toEqual({ value: -1, unit: 'week' });
    expect(relativeParts(NOW - 400 * 86_400_000, NOW)).toEqual({ value: -1, unit: 'year' });
    expect(formatRelative(NOW + 120_000, NOW, 'en', 'now')).toBe('in 2 minutes');
  });
});

function entry(account: string, e: Partial<BoardEntry> = {}): BoardEntry {
  return { account, name: account, path: 'none', via: null, public_relay: false, last_seen_ms: 0, waiting: 0, check_in_ms: null, ...e };
}

describe('check-in banner', () => {
  it('lists everyone who checked in, me included, newest first', () => {
    const items = checkIns(
      {
        my_check_in_ms: NOW - 1000,
        entries: [entry('mom', { check_in_ms: NOW - 5000 }), entry('dad'), entry('kid', { check_in_ms: NOW })],
      },
      { account: 'me', name: 'Me' },
    );
    expect(items.map((i) => [i.account, i.mine])).toEqual([
      ['kid', false],
      ['me', true],
      ['mom', false],
    ]);
  });

  it('is empty when nobody checked in', () => {
    expect(checkIns({ my_check_in_ms: null, entries: [entry('a')] }, { account: 'me', name: 'Me' })).toEqual([]);
  });

  it('lists reachable people first, then by name', () => {
    const sorted = sortEntries(
      [entry('Zoe', { path: 'lan' }), entry('Bo'), entry('Amy', { path: 'mesh' })].map((e) => ({ ...e, name: e.account })),
      'en',
    );
    expect(sorted.map((e) => e.name)).toEqual(['Amy', 'Zoe', 'Bo']);
  });

  it('lists people a mailbox keeps messages for after the reachable, before the rest', () => {
    const sorted = sortEntries(
      [entry('Ann'), entry('Cy', { path: 'mailbox' }), entry('Zed', { path: 'relayed' }), entry('Bea', { path: 'mailbox' })],
      'en',
    );
    expect(sorted.map((e) => e.name)).toEqual(['Zed', 'Bea', 'Cy', 'Ann']);
  });
});
