import { describe, expect, it } from 'vitest';
import { Heights, KeyedHeights, computeWindow, MAX_ROWS } from './virtual';

/** Reference: the rows a naive scan would show for a scroll position. */
function naiveIndexAt(sizes: number[], offset: number): number {
  let top = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (offset < top + sizes[i]) return i;
    top += sizes[i];
  }
  return sizes.length - 1;
}

/** Deterministic pseudo-random heights (40–240 px). */
function sizes(n: number, seed = 7): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 40 + (x % 201);
  });
}

describe('Heights', () => {
  it('sums heights before each row', () => {
    const h = new Heights([10, 20, 30, 40]);
    expect([0, 1, 2, 3, 4].map((i) => h.offsetOf(i))).toEqual([0, 10, 30, 60, 100]);
    expect(h.total()).toBe(100);
  });

  it('finds the row at an offset', () => {
    const h = new Heights([10, 20, 30, 40]);
    expect(h.indexAt(-5)).toBe(0);
    expect(h.indexAt(0)).toBe(0);
    expect(h.indexAt(9.5)).toBe(0);
    expect(h.indexAt(10)).toBe(1);
    expect(h.indexAt(29)).toBe(1);
    expect(h.indexAt(30)).toBe(2);
    expect(h.indexAt(99)).toBe(3);
    expect(h.indexAt(10_000)).toBe(3);
  });

  it('updates sums when a row is measured', () => {
    const h = new Heights([10, 20, 30, 40]);
    expect(h.set(1, 50)).toBe(30);
    expect(h.offsetOf(2)).toBe(60);
    expect(h.total()).toBe(130);
    expect(h.indexAt(59)).toBe(1);
    expect(h.set(1, 50)).toBe(0);
  });

  it('agrees with a naive scan on 100k variable rows', () => {
    const s = sizes(100_000);
    const h = new Heights(s);
    const total = s.reduce((a, b) => a + b, 0);
    expect(h.total()).toBe(total);
    for (const offset of [0, 1, 12_345, total / 3, total / 2 + 0.5, total - 1, total + 5]) {
      expect(h.indexAt(offset)).toBe(naiveIndexAt(s, offset));
    }
    // Measuring rows changes later offsets only.
    h.set(50_000, s[50_000] + 100);
    s[50_000] += 100;
    expect(h.indexAt(total / 2)).toBe(naiveIndexAt(s, total / 2));
    expect(h.offsetOf(50_000)).toBe(s.slice(0, 50_000).reduce((a, b) => a + b, 0));
  });

  it('handles an empty list', () => {
    const h = new Heights([]);
    expect(h.total()).toBe(0);
    expect(h.indexAt(100)).toBe(0);
  });
});

describe('computeWindow', () => {
  const base = { overscan: 300, maxRows: MAX_ROWS };

  it('renders the rows in the viewport plus overscan', () => {
    const h = new Heights(new Array(1000).fill(50));
    const w = computeWindow({ ...base, heights: h, scrollTop: 10_000, viewport: 600 });
    // Viewport rows 200..211, overscan 6 rows each side.
    expect(w.start).toBe(194);
    expect(w.end).toBe(219);
    expect(w.padStart).toBe(194 * 50);
    expect(w.padEnd).toBe((1000 - 219) * 50);
  });

  it('keeps padding plus rendered rows equal to the whole list', () => {
    const s = sizes(5000, 3);
    const h = new Heights(s);
    const w = computeWindow({ ...base, heights: h, scrollTop: 123_456, viewport: 700 });
    const rendered = s.slice(w.start, w.end).reduce((a, b) => a + b, 0);
    expect(w.padStart + rendered + w.padEnd).toBe(h.total());
  });

  it('covers the whole viewport at 100k rows of variable height', () => {
    const s = sizes(100_000, 11);
    const h = new Heights(s);
    const total = h.total();
    for (const scrollTop of [0, 5_000, total / 2, total - 700]) {
      const w = computeWindow({ ...base, heights: h, scrollTop, viewport: 700 });
      expect(w.end - w.start).toBeLessThanOrEqual(MAX_ROWS);
      expect(w.padStart).toBeLessThanOrEqual(scrollTop);
      expect(total - w.padEnd).toBeGreaterThanOrEqual(Math.min(total, scrollTop + 700));
    }
  });

  it('never renders more than maxRows, even with tiny rows and a huge overscan', () => {
    const h = new Heights(new Array(100_000).fill(1));
    const w = computeWindow({ heights: h, scrollTop: 50_000, viewport: 2000, overscan: 5000, maxRows: 150 });
    expect(w.end - w.start).toBe(150);
    // The rows in view come first.
    expect(w.start).toBe(50_000);
  });

  it('spends spare rows on the other side at the edges', () => {
    const h = new Heights(new Array(100_000).fill(10));
    const top = computeWindow({ heights: h, scrollTop: 0, viewport: 100, overscan: 10_000, maxRows: 150 });
    expect(top.start).toBe(0);
    expect(top.end).toBe(150);
    const end = computeWindow({
      heights: h,
      scrollTop: h.total() - 100,
      viewport: 100,
      overscan: 10_000,
      maxRows: 150,
    });
    expect(end.end).toBe(100_000);
    expect(end.end - end.start).toBe(150);
  });

  it('is empty for an empty list', () => {
    expect(computeWindow({ ...base, heights: new Heights([]), scrollTop: 0, viewport: 500 })).toEqual({
      start: 0,
      end: 0,
      padStart: 0,
      padEnd: 0,
    });
  });
});

describe('KeyedHeights', () => {
  it('keeps measured heights when rows are prepended', () => {
    const kh = new KeyedHeights();
    const est = () => 100;
    kh.rebuild(['c', 'd'], (r) => r, est);
    expect(kh.measure('d', 30)).toEqual({ index: 1, delta: -70 });
    kh.rebuild(['a', 'b', 'c', 'd'], (r) => r, est);
    expect(kh.indexOf('d')).toBe(3);
    expect(kh.heights.size(3)).toBe(30);
    expect(kh.heights.total()).toBe(330);
    expect(kh.keyAt(0)).toBe('a');
  });

  it('remembers measurements of rows not in the list', () => {
    const kh = new KeyedHeights();
    expect(kh.measure('z', 10)).toEqual({ index: -1, delta: 0 });
    kh.rebuild(['z'], (r) => r, () => 99);
    expect(kh.heights.total()).toBe(10);
  });
});
