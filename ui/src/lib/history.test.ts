import { describe, expect, it } from 'vitest';
import type { Message } from '../api';
import { mergeMessages, safeBefore, ulp, hlcToMs, compareMessages } from './history';

function msg(id: string, sent_at: number, body = id): Message {
  return {
    id,
    chat: 'c',
    author: 'a',
    author_name: 'A',
    mine: false,
    sent_at,
    sent_at_ms: 0,
    body,
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

describe('merging pages', () => {
  it('prepends an older page', () => {
    const r = mergeMessages([msg('c', 3), msg('d', 4)], [msg('a', 1), msg('b', 2)]);
    expect(r.messages.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.added.map((m) => m.id)).toEqual(['a', 'b']);
  });

  it('replaces changed messages in place and drops duplicates', () => {
    const loaded = [msg('a', 1), msg('b', 2), msg('c', 3)];
    const r = mergeMessages(loaded, [msg('b', 2, 'edited'), msg('c', 3), msg('d', 4)]);
    expect(r.messages.map((m) => `${m.id}:${m.body}`)).toEqual(['a:a', 'b:edited', 'c:c', 'd:d']);
    expect(r.messages[2]).toBe(loaded[2]);
    expect(r.added.map((m) => m.id)).toEqual(['d']);
  });

  it('inserts a late message in the middle', () => {
    const r = mergeMessages([msg('a', 1), msg('c', 3)], [msg('b', 2)]);
    expect(r.messages.map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('reports no change for an identical page', () => {
    const loaded = [msg('a', 1)];
    const r = mergeMessages(loaded, [msg('a', 1)]);
    expect(r.changed).toBe(false);
    expect(r.messages).toBe(loaded);
  });

  it('replaces a message whose attachment finished downloading', () => {
    const photo = (state: NonNullable<Message['attachment']>['state']): Message => ({
      ...msg('p', 1, ''),
      attachment: {
        blob: 'b1',
        kind: 'photo',
        name: 'sea.jpg',
        mime: 'image/jpeg',
        size: 1000,
        preview: 'data:image/jpeg;base64,AA==',
        width: 4,
        height: 3,
        duration_ms: null,
        waveform: [],
        state,
      },
    });
    const loaded = [photo({ state: 'downloading', have: 1, of: 4 })];
    expect(mergeMessages(loaded, [photo({ state: 'downloading', have: 1, of: 4 })]).changed).toBe(false);
    const r = mergeMessages(loaded, [photo({ state: 'complete' })]);
    expect(r.changed).toBe(true);
    expect(r.messages[0].attachment?.state).toEqual({ state: 'complete' });
  });

  it('orders equal times by id, as the shell does', () => {
    expect(compareMessages(msg('a', 5), msg('b', 5))).toBeLessThan(0);
    const r = mergeMessages([msg('b', 5)], [msg('a', 5), msg('c', 5)]);
    expect(r.messages.map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('the cursor for older pages', () => {
  it('passes exact values through', () => {
    expect(safeBefore(12345)).toBe(12345);
  });

  it('moves a rounded HLC value up by its precision so nothing is skipped', () => {
    // 2025-01-01 in ms << 16: far beyond 2^53, JSON rounds it to a multiple of 16.
    const exact = 1735689600000n * 65536n + 5n;
    const rounded = Number(exact);
    expect(ulp(rounded)).toBe(16);
    expect(BigInt(safeBefore(rounded))).toBeGreaterThan(exact);
    expect(BigInt(safeBefore(rounded)) - exact).toBeLessThanOrEqual(32n);
  });

  it('reads wall milliseconds from an HLC value', () => {
    expect(hlcToMs(1735689600000 * 65536 + 7)).toBe(1735689600000);
  });
});
