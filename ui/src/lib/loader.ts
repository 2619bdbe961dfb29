// What a screen shows while it reads something from the shell: loading, the data, or why it
// could not be read (with a way to try again). A failed read must never look like "nothing
// there yet" or like loading that never ends.
//
//   loading ──ok──▶ ready ──re-read fails──▶ error (data kept, shown as possibly out of date)
//      │                ▲                      │
//      └──fails──▶ error ┴──────retry──────────┘ (back to loading while it has no data)
//
// Reads can overlap (an event arrives while the last read is still out): only the latest one
// decides what is shown, so an older, slower answer never overwrites a newer one.

import { toApiError, type ApiError } from '../api';

export type Phase = 'loading' | 'ready' | 'error';

export type LoadState<T> = {
  phase: Phase;
  /** The last data read; kept through a failed re-read. Undefined until one read succeeds. */
  data: T | undefined;
  /** Why the latest read failed (phase `error` only). */
  error: ApiError | null;
  /** A read is in flight (for disabling "Try again" while it runs). */
  pending: boolean;
};

export function initialState<T>(): LoadState<T> {
  return { phase: 'loading', data: undefined, error: null, pending: false };
}

export class Loader<T> {
  private run = 0;
  private current: LoadState<T> = initialState<T>();

  /**
   * `read` fetches the data; `onChange` receives every new state (assign it to a `$state`
   * variable in a component).
   */
  constructor(
    private readonly read: () => Promise<T>,
    private readonly onChange: (s: LoadState<T>) => void = () => {},
  ) {}

  get state(): LoadState<T> {
    return this.current;
  }

  /**
   * Reads (again). With data on screen the data stays while the re-read runs; without (first
   * read, or after a failure with nothing to show) it shows as loading. `fresh` drops the data
   * first (the question changed, e.g. a new search).
   */
  async load(fresh = false): Promise<void> {
    const run = ++this.run;
    const data = fresh ? undefined : this.current.data;
    const phase: Phase = data === undefined || this.current.phase === 'error' ? 'loading' : 'ready';
    this.set({ phase, data, error: null, pending: true });
    let next: LoadState<T>;
    try {
      const value = await this.read();
      next = { phase: 'ready', data: value, error: null, pending: false };
    } catch (e) {
      const error = toApiError(e);
      console.error('hearth:', error.kind, error.message);
      next = { phase: 'error', data: this.current.data, error, pending: false };
    }
    if (run === this.run) this.set(next);
  }

  /** "Try again": the same as a re-read. */
  retry = (): Promise<void> => this.load();

  /**
   * Replaces the data shown by what a command just did (a setting saved), without a read.
   * Nothing happens before the first read succeeded.
   */
  update(change: (data: T) => T): void {
    if (this.current.data === undefined) return;
    this.set({ ...this.current, data: change(this.current.data) });
  }

  /** Forgets everything and ignores reads still out (the screen closes or starts over). */
  reset(): void {
    this.run++;
    this.set(initialState<T>());
  }

  private set(s: LoadState<T>): void {
    this.current = s;
    this.onChange(s);
  }
}
