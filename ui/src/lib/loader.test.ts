import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Loader, initialState, type LoadState } from './loader';

/** A read the test answers by hand, in any order. */
function manual<T>() {
  const calls: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  const read = () =>
    new Promise<T>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { read, calls };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('a screen loading its data', () => {
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('starts as loading, with nothing to show', () => {
    expect(initialState()).toEqual({ phase: 'loading', data: undefined, error: null, pending: false });
    expect(new Loader(async () => 1).state.phase).toBe('loading');
  });

  it('shows the data once read', async () => {
    const seen: LoadState<string[]>[] = [];
    const l = new Loader(async () => ['chat'], (s) => seen.push(s));
    await l.load();
    expect(l.state).toEqual({ phase: 'ready', data: ['chat'], error: null, pending: false });
    expect(seen.map((s) => s.phase)).toEqual(['loading', 'ready']);
    expect(seen[0].pending).toBe(true);
  });

  it('shows why it failed instead of an empty list, and recovers on retry', async () => {
    let fail = true;
    const l = new Loader(async () => {
      if (fail) throw { kind: 'storage', message: 'opening database: disk I/O error' };
      return [] as string[];
    });
    await l.load();
    expect(l.state.phase).toBe('error');
    expect(l.state.data).toBeUndefined();
    expect(l.state.error).toEqual({ kind: 'storage', message: 'opening database: disk I/O error' });

    fail = false;
    const retrying = l.retry();
    expect(l.state).toMatchObject({ phase: 'loading', error: null, pending: true });
    await retrying;
    // Now an empty list really is empty.
    expect(l.state).toEqual({ phase: 'ready', data: [], error: null, pending: false });
  });

  it('normalises whatever the shell rejected with', async () => {
    const l = new Loader(async () => {
      throw new Error('IPC gone');
    });
    await l.load();
    expect(l.state.error).toEqual({ kind: 'unavailable', message: 'IPC gone' });
  });

  it('keeps the data on screen while re-reading, and when a re-read fails', async () => {
    const { read, calls } = manual<number>();
    const l = new Loader(read);
    const first = l.load();
    calls[0].resolve(1);
    await first;

    const again = l.load();
    expect(l.state).toMatchObject({ phase: 'ready', data: 1, pending: true });
    calls[1].reject({ kind: 'shutdown', message: 'closing' });
    await again;
    expect(l.state).toMatchObject({ phase: 'error', data: 1, error: { kind: 'shutdown' } });

    // Retrying after that shows loading (the error goes) but keeps the old data.
    const retry = l.retry();
    expect(l.state).toMatchObject({ phase: 'loading', data: 1, error: null });
    calls[2].resolve(2);
    await retry;
    expect(l.state).toMatchObject({ phase: 'ready', data: 2 });
  });

  it('lets only the latest read decide, however the answers arrive', async () => {
    const { read, calls } = manual<string>();
    const l = new Loader(read);
    const a = l.load();
    const b = l.load();
    calls[1].resolve('new');
    await b;
    calls[0].resolve('old');
    await a;
    expect(l.state).toMatchObject({ phase: 'ready', data: 'new', pending: false });

    // An old failure arriving late does not turn a good screen into an error either.
    const c = l.load();
    const d = l.load();
    calls[3].resolve('newer');
    calls[2].reject({ kind: 'storage', message: 'late' });
    await Promise.all([c, d]);
    expect(l.state).toMatchObject({ phase: 'ready', data: 'newer', error: null });
  });

  it('drops the old data for a new question', async () => {
    const { read, calls } = manual<string>();
    const l = new Loader(read);
    const a = l.load();
    calls[0].resolve('results for 밥');
    await a;
    const b = l.load(true);
    expect(l.state).toMatchObject({ phase: 'loading', data: undefined });
    calls[1].resolve('results for 엄마');
    await b;
    expect(l.state.data).toBe('results for 엄마');
  });

  it('ignores reads still out after a reset', async () => {
    const { read, calls } = manual<string>();
    const l = new Loader(read);
    const a = l.load();
    l.reset();
    calls[0].resolve('stale');
    await a;
    await tick();
    expect(l.state).toEqual(initialState());
  });

  it('takes in what a command changed, once there is data', async () => {
    const l = new Loader(async () => ({ lan_only: false }));
    l.update(() => ({ lan_only: true }));
    expect(l.state.data).toBeUndefined();
    await l.load();
    l.update((s) => ({ ...s, lan_only: true }));
    expect(l.state).toMatchObject({ phase: 'ready', data: { lan_only: true } });
  });
});
