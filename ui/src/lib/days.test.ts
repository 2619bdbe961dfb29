import { describe, expect, it } from 'vitest';
import { dayKey, withDaySeparators } from './days';
import type { Message } from '../api';

function msg(id: string, at: Date): Message {
  return {
    id,
    chat: 'c',
    author: 'a',
    author_name: 'A',
    mine: false,
    sent_at: at.getTime() * 65536,
    sent_at_ms: at.getTime(),
    body: id,
    reply_to: null,
    edited_at: null,
    deleted: false,
    kind: 'text',
    reactions: [],
    status: null,
    receipts: [],
    mailboxes: [],
    attachment: null,
  };
}

describe('day separators', () => {
  it('uses the local calendar day', () => {
    expect(dayKey(new Date(2024, 0, 31, 23, 59).getTime())).toBe('2024-01-31');
    expect(dayKey(new Date(2024, 1, 1, 0, 0).getTime())).toBe('2024-02-01');
  });

  it('puts one separator before the first message of each day', () => {
    const rows = withDaySeparators([
      msg('a', new Date(2024, 0, 31, 9, 0)),
      msg('b', new Date(2024, 0, 31, 23, 59)),
      msg('c', new Date(2024, 1, 1, 0, 1)),
      msg('d', new Date(2024, 1, 3, 12, 0)),
    ]);
    expect(rows.map((r) => (r.type === 'day' ? `[${r.day}]` : r.key))).toEqual([
      '[2024-01-31]',
      'a',
      'b',
      '[2024-02-01]',
      'c',
      '[2024-02-03]',
      'd',
    ]);
  });

  it('gives separators keys that differ from message ids', () => {
    const rows = withDaySeparators([msg('x', new Date(2024, 5, 1, 8))]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });

  it('has no rows without messages', () => {
    expect(withDaySeparators([])).toEqual([]);
  });
});
