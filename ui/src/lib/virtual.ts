// Windowing math for long lists with rows of different heights (a conversation can hold 100k
// messages). Heights are kept in a Fenwick tree, so updating one measured row and finding the
// row at a scroll offset both cost O(log n); building it for n rows costs O(n). Only the rows
// near the viewport are rendered, never more than `maxRows`, whatever the list's length.

/** Prefix sums of row heights. */
export class Heights {
  private readonly tree: Float64Array;
  private readonly sizes: Float64Array;
  readonly count: number;

  constructor(sizes: ArrayLike<number>) {
    const n = sizes.length;
    this.count = n;
    this.sizes = new Float64Array(n);
    this.tree = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const s = Math.max(0, sizes[i]);
      this.sizes[i] = s;
      this.tree[i + 1] += s;
      const parent = i + 1 + ((i + 1) & -(i + 1));
      if (parent <= n) this.tree[parent] += this.tree[i + 1];
    }
  }

  size(i: number): number {
    return this.sizes[i];
  }

  /** Sets the height of row `i`; returns the change. */
  set(i: number, size: number): number {
    const delta = Math.max(0, size) - this.sizes[i];
    if (delta === 0) return 0;
    this.sizes[i] += delta;
    for (let j = i + 1; j <= this.count; j += j & -j) this.tree[j] += delta;
    return delta;
  }

  /** Top of row `i` (the sum of the heights of rows before it); `count` gives the total. */
  offsetOf(i: number): number {
    let sum = 0;
    for (let j = Math.min(i, this.count); j > 0; j -= j & -j) sum += this.tree[j];
    return sum;
  }

  total(): number {
    return this.offsetOf(this.count);
  }

  /** The row at `offset` (clamped to the list): the last row whose top is ≤ offset. */
  indexAt(offset: number): number {
    if (this.count === 0) return 0;
    if (offset <= 0) return 0;
    let pos = 0;
    let rest = offset;
    let step = 1;
    while (step * 2 <= this.count) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.count && this.tree[next] <= rest) {
        pos = next;
        rest -= this.tree[next];
      }
    }
    return Math.min(pos, this.count - 1);
  }
}

export type WindowInput = {
  heights: Heights;
  scrollTop: number;
  viewport: number;
  /** Extra pixels rendered above and below the viewport. */
  overscan: number;
  /** Upper bound on rendered rows. */
  maxRows: number;
};

export type Window = {
  /** First rendered row. */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** Space standing in for the rows before `start` and after `end`. */
  padStart: number;
  padEnd: number;
};

/** Upper bound on DOM rows of a conversation, whatever its length. */
export const MAX_ROWS = 150;

export function computeWindow({ heights, scrollTop, viewport, overscan, maxRows }: WindowInput): Window {
  const n = heights.count;
  if (n === 0 || maxRows <= 0) return { start: 0, end: 0, padStart: 0, padEnd: 0 };
  const top = Math.max(0, scrollTop);
  const visStart = heights.indexAt(top);
  const visEnd = Math.max(visStart + 1, heights.indexAt(top + Math.max(0, viewport)) + 1);
  const wantStart = heights.indexAt(top - overscan);
  const wantEnd = Math.min(n, heights.indexAt(top + viewport + overscan) + 1);
  let start: number;
  let end: number;
  if (visEnd - visStart >= maxRows) {
    start = visStart;
    end = Math.min(n, visStart + maxRows);
  } else {
    let spare = maxRows - (visEnd - visStart);
    const before = Math.min(visStart - wantStart, Math.floor(spare / 2));
    spare -= before;
    const after = Math.min(wantEnd - visEnd, spare);
    spare -= after;
    // What one side cannot use, the other may.
    const moreBefore = Math.min(visStart - wantStart - before, spare);
    start = visStart - before - moreBefore;
    end = Math.min(n, visEnd + after);
  }
  const padStart = heights.offsetOf(start);
  const padEnd = heights.total() - heights.offsetOf(end);
  return { start, end, padStart, padEnd };
}

/**
 * Heights of rows identified by key: measured heights are remembered by key, so rebuilding
 * after older rows were prepended keeps them; rows never measured use an estimate.
 */
export class KeyedHeights {
  private readonly measured = new Map<string, number>();
  heights = new Heights([]);
  private keys: string[] = [];
  private index = new Map<string, number>();

  rebuild<R>(rows: readonly R[], keyOf: (r: R) => string, estimate: (r: R) => number): void {
    this.keys = rows.map(keyOf);
    this.index = new Map(this.keys.map((k, i) => [k, i]));
    this.heights = new Heights(rows.map((r, i) => this.measured.get(this.keys[i]) ?? estimate(r)));
  }

  /** Records a measured height; returns the row's index and the change (0 if unknown). */
  measure(key: string, size: number): { index: number; delta: number } {
    this.measured.set(key, size);
    const i = this.index.get(key);
    if (i === undefined) return { index: -1, delta: 0 };
    return { index: i, delta: this.heights.set(i, size) };
  }

  indexOf(key: string): number {
    return this.index.get(key) ?? -1;
  }

  keyAt(i: number): string | undefined {
    return this.keys[i];
  }
}
