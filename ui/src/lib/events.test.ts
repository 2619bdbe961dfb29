import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HearthEvent } from '../api';
import { Coalescer, HEARTH_EVENTS, topicsFor, type Topic } from './events';

describe('what to re-read on an event', () => {
  it('re-reads the conversation and the list for messages', () => {
    expect(topicsFor({ event: 'message_received', chat: 'c1', message: 'm' })).toEqual(
      expect.arrayContaining(['messages:c1', 'chats']),
    );
    expect(topicsFor({ event: 'messages_changed', chat: 'c2' })).toContain('messages:c2');
    expect(topicsFor({ event: 'delivery_changed', chat: 'c3' })).toEqual(
      expect.arrayContaining(['messages:c3', 'board']),
    );
  });

  it('refreshes reachability on path changes', () => {
    expect(topicsFor({ event: 'path_changed', device: 'd', path: 'lan' })).toEqual(
      expect.arrayContaining(['board', 'chats']),
    );
    expect(topicsFor({ event: 'contacts_changed' })).toEqual(expect.arrayContaining(['contacts', 'chats']));
    expect(topicsFor({ event: 'envelopes_added', topic: 't' })).toEqual([]);
    // Download progress moves a bar; it re-reads nothing (the finished blob brings messages_changed).
    expect(topicsFor({ event: 'blob_progress', blob: 'b', have: 1, of: 2 })).toEqual([]);
  });

  it('re-reads the board on every event the core sends that changes it', () => {
    // The core has no board event: waiting counts follow my messages and their receipts,
    // check-ins arrive as messages, and membership decides whom the board lists.
    const changesBoard: HearthEvent[] = [
      { event: 'profile_changed' },
      { event: 'contacts_changed' },
      { event: 'chats_changed' },
      { event: 'messages_changed', chat: 'c' },
      { event: 'message_received', chat: 'c', message: 'm' },
      { event: 'delivery_changed', chat: 'c' },
      { event: 'path_changed', device: 'd', path: 'none' },
      { event: 'relay_changed' },
    ];
    for (const e of changesBoard) expect(topicsFor(e), e.event).toContain('board');
  });

  it('knows every event the core emits, and no other', () => {
    // core/src/events.rs, `Event` (snake_case tags).
    const core = [
      'profile_changed',
      'contacts_changed',
      'chats_changed',
      'messages_changed',
      'message_received',
      'envelopes_added',
      'path_changed',
      'delivery_changed',
      'relay_changed',
      'hole_punch',
      'blob_progress',
    ];
    expect([...HEARTH_EVENTS].sort()).toEqual([...core].sort());
  });

  it('re-reads the network status and the board when a relay changes', () => {
    expect(topicsFor({ event: 'relay_changed' })).toEqual(expect.arrayContaining(['network', 'board']));
    expect(topicsFor({ event: 'path_changed', device: 'd', path: 'mailbox' })).toContain('board');
  });

  it('hands a relay change over with the rest of a burst', () => {
    vi.useFakeTimers();
    const flushed: Set<Topic>[] = [];
    const c = new Coalescer((t) => flushed.push(t), 100, 500, () => Date.now());
    c.add(topicsFor({ event: 'relay_changed' }));
    c.add(topicsFor({ event: 'delivery_changed', chat: 'c1' }));
    vi.advanceTimersByTime(100);
    expect(flushed).toHaveLength(1);
    expect([...flushed[0]].sort()).toEqual(['board', 'messages:c1', 'network']);
    vi.useRealTimers();
  });
});

describe('Coalescer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands over a burst once', () => {
    vi.useFakeTimers();
    const flushed: Set<Topic>[] = [];
    const c = new Coalescer((t) => flushed.push(t), 100, 500, () => Date.now());
    for (let i = 0; i < 1000; i++) c.add(['chats', 'messages:x']);
    c.add(['board']);
    expect(flushed).toHaveLength(0);
    vi.advanceTimersByTime(100);
    expect(flushed).toHaveLength(1);
    expect([...flushed[0]].sort()).toEqual(['board', 'chats', 'messages:x']);
  });

  it('flushes during an endless stream by the maximum delay', () => {
    vi.useFakeTimers();
    const flushed: Set<Topic>[] = [];
    const c = new Coalescer((t) => flushed.push(t), 100, 300, () => Date.now());
    for (let i = 0; i < 10; i++) {
      c.add(['chats']);
      vi.advanceTimersByTime(50);
    }
    expect(flushed.length).toBeGreaterThanOrEqual(1);
  });

  it('ignores events that need no re-read', () => {
    vi.useFakeTimers();
    const flushed: Set<Topic>[] = [];
    const c = new Coalescer((t) => flushed.push(t));
    c.add([]);
    vi.runAllTimers();
    expect(flushed).toHaveLength(0);
  });
});
