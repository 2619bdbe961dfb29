import { describe, expect, it } from 'vitest';
import { isFragmentedMp4, withLength } from './mp4';

// Voice messages built box by box, laid out as WebKitGTK's recorder writes them: `ftyp` twice,
// a `moov` whose `mvhd` and `mehd` say 0, then one-second fragments of 20 ms Opus packets at
// 48 kHz, the last one written twice.

type Bytes = number[] | Uint8Array;
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u64 = (n: number) => [...u32(Math.floor(n / 2 ** 32)), ...u32(n % 2 ** 32)];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

function box(type: string, ...parts: Bytes[]): Uint8Array {
  const body = parts.flatMap((p) => [...p]);
  return Uint8Array.from([...u32(8 + body.length), ...ascii(type), ...body]);
}
const full = (type: string, version: number, flags: number, ...parts: Bytes[]) =>
  box(type, [version, ...u32(flags).slice(1)], ...parts);

/** The movie's timescale (WebKitGTK's) and the track's (Opus). */
const MOVIE_TS = 1800;
const TRACK_TS = 48_000;
/** One Opus packet: 20 ms. */
const PACKET = 960;

type Fragment = {
  /** Where it starts (`tfdt`), in the track's timescale; none: right after the one before. */
  start?: number;
  /** Its samples' durations, each in the `trun` (flags 0x100), or `count` samples of the defaults. */
  durations?: number[];
  count?: number;
  /** `tfhd`'s default sample duration (flags 0x08). */
  defaultDuration?: number;
};

function moof(seq: number, f: Fragment): Uint8Array {
  const n = f.durations?.length ?? f.count ?? 0;
  // WebKitGTK's trun: data offset, and per sample its duration, size and flags (0x701).
  const trun = f.durations
    ? full('trun', 0, 0x701, u32(n), u32(0), ...f.durations.flatMap((d) => [u32(d), u32(100), u32(0)]))
    : full('trun', 0, 0x201, u32(n), u32(0), ...Array.from({ length: n }, () => u32(100)));
  const tfhd = f.defaultDuration === undefined ? full('tfhd', 0, 0, u32(1)) : full('tfhd', 0, 0x08, u32(1), u32(f.defaultDuration));
  const tfdt = f.start === undefined ? [] : [full('tfdt', 1, 0, u64(f.start))];
  return box('moof', full('mfhd', 0, 0, u32(seq)), box('traf', tfhd, ...tfdt, trun));
}

type Movie = {
  fragments: Fragment[];
  /** `mehd`: its version, and what it says; null: no `mehd` at all. */
  mehd?: { version: 0 | 1; length: number } | null;
  /** `trex`'s default sample duration. */
  trexDuration?: number;
  fragmented?: boolean;
};

function movie({ fragments, mehd = { version: 1, length: 0 }, trexDuration = 0, fragmented = true }: Movie): Uint8Array {
  const ftyp = box('ftyp', ascii('iso4'), u32(1), ascii('iso4'));
  const mvhd = full('mvhd', 0, 0, u32(0), u32(0), u32(MOVIE_TS), u32(0), new Array(80).fill(0));
  const trak = box(
    'trak',
    full('tkhd', 0, 3, u32(0), u32(0), u32(1), u32(0), u32(0), new Array(60).fill(0)),
    box('mdia', full('mdhd', 0, 0, u32(0), u32(0), u32(TRACK_TS), u32(0), u32(0)), full('hdlr', 0, 0, u32(0), ascii('soun'))),
  );
  const mehdBox = mehd ? [mehd.version === 1 ? full('mehd', 1, 0, u64(mehd.length)) : full('mehd', 0, 0, u32(mehd.length))] : [];
  const mvex = box('mvex', ...mehdBox, full('trex', 0, 0, u32(1), u32(1), u32(trexDuration), u32(0), u32(0)));
  const moov = box('moov', mvhd, trak, box('udta', ascii('meta')), ...(fragmented ? [mvex] : []));
  const parts = [ftyp, ftyp, moov];
  fragments.forEach((f, i) => parts.push(moof(i + 1, f), box('mdat', new Array(64).fill(7))));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** What the file's `mehd` says, in the movie's timescale. */
function declared(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 4; i + 4 <= bytes.length; i++) {
    if (String.fromCharCode(...bytes.subarray(i, i + 4)) !== 'mehd') continue;
    const body = i + 4;
    return v.getUint8(body) === 1 ? v.getUint32(body + 4) * 2 ** 32 + v.getUint32(body + 8) : v.getUint32(body + 4);
  }
  throw new Error('no mehd');
}

const second = (start: number): Fragment => ({ start, durations: new Array(50).fill(PACKET) });
const last: Fragment = { start: 4 * TRACK_TS, durations: new Array(6).fill(PACKET) };
/** 4.12 s, as WebKitGTK writes it (the last fragment twice). */
const recording = () => movie({ fragments: [second(0), second(TRACK_TS), second(2 * TRACK_TS), second(3 * TRACK_TS), last, last] });
/** 4.12 s in the movie's timescale. */
const LENGTH = ((4 * TRACK_TS + 6 * PACKET) * MOVIE_TS) / TRACK_TS;

describe('the length of a voice message recorded by WebKitGTK', () => {
  it('is filled in from its fragments, and nothing else changes', () => {
    const sent = recording();
    const played = withLength(sent);
    expect(declared(played)).toBe(LENGTH);
    expect(LENGTH).toBe(7416);
    const changed = [...played].flatMap((b, i) => (b === sent[i] ? [] : [i]));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(8);
    expect(played.length).toBe(sent.length);
  });

  it('leaves the bytes as sent alone (they are also what is saved)', () => {
    const sent = recording();
    const copy = sent.slice();
    withLength(sent);
    expect(sent).toEqual(copy);
    expect(declared(sent)).toBe(0);
  });

  it('counts the last fragment, written twice, once', () => {
    const once = movie({ fragments: [second(0), second(TRACK_TS), second(2 * TRACK_TS), second(3 * TRACK_TS), last] });
    expect(declared(withLength(once))).toBe(LENGTH);
  });

  it('reads a file that is a view into a larger buffer', () => {
    const sent = recording();
    const big = new Uint8Array(sent.length + 10);
    big.set(sent, 5);
    expect(declared(withLength(big.subarray(5, 5 + sent.length)))).toBe(LENGTH);
  });

  it('writes a 32-bit length field too', () => {
    const sent = movie({ fragments: [second(0), second(TRACK_TS)], mehd: { version: 0, length: 0 } });
    expect(declared(withLength(sent))).toBe(2 * MOVIE_TS);
  });
});

describe('the length of other fragmented MP4s', () => {
  it('takes sample durations from the fragment\'s defaults, then the track\'s', () => {
    const fromTfhd = movie({ fragments: [{ start: 0, count: 100, defaultDuration: PACKET }] });
    expect(declared(withLength(fromTfhd))).toBe(2 * MOVIE_TS);
    const fromTrex = movie({ fragments: [{ start: 0, count: 150 }], trexDuration: PACKET });
    expect(declared(withLength(fromTrex))).toBe(3 * MOVIE_TS);
  });

  it('follows on from the fragment before when a fragment does not say where it starts', () => {
    const sent = movie({ fragments: [{ durations: new Array(50).fill(PACKET) }, { durations: new Array(25).fill(PACKET) }] });
    expect(declared(withLength(sent))).toBe(1.5 * MOVIE_TS);
  });

  it('rounds a length between two ticks of the movie\'s clock up', () => {
    const sent = movie({ fragments: [{ start: 0, durations: [PACKET, 1] }] });
    expect(declared(withLength(sent))).toBe(Math.ceil(((PACKET + 1) * MOVIE_TS) / TRACK_TS));
  });
});

describe('files with nothing to fill in', () => {
  const same = (bytes: Uint8Array) => expect(withLength(bytes)).toBe(bytes);

  it('are handed back as they came', () => {
    same(movie({ fragments: [second(0)], mehd: { version: 1, length: 1234 } }));
    same(movie({ fragments: [second(0)], mehd: null }));
    same(movie({ fragments: [], fragmented: true }));
    same(movie({ fragments: [], fragmented: false }));
    same(Uint8Array.from([...ascii('OggS'), 0, 2, ...new Array(40).fill(0)]));
    same(Uint8Array.from([...ascii('RIFF'), ...u32(36), ...ascii('WAVEfmt '), ...new Array(28).fill(0)]));
    same(Uint8Array.from([0x1a, 0x45, 0xdf, 0xa3, ...new Array(40).fill(0)]));
    same(new Uint8Array(0));
  });

  it('are handed back when they cannot be read, without throwing', () => {
    const sent = recording();
    // A sample count far past the end of its box.
    const at = sent.findIndex((_, i) => String.fromCharCode(...sent.subarray(i, i + 4)) === 'trun');
    const broken = sent.slice();
    broken.set(u32(0x7fffffff), at + 8);
    expect(() => withLength(broken)).not.toThrow();
    // Cut off in the middle of the header.
    const moov = sent.findIndex((_, i) => String.fromCharCode(...sent.subarray(i, i + 4)) === 'moov');
    same(sent.subarray(0, moov + 40));
  });
});

describe('telling a fragmented MP4', () => {
  it('from an MP4 whose samples are all in its header, and from other formats', () => {
    expect(isFragmentedMp4(recording())).toBe(true);
    expect(isFragmentedMp4(movie({ fragments: [], mehd: null }))).toBe(true);
    expect(isFragmentedMp4(movie({ fragments: [], fragmented: false }))).toBe(false);
    expect(isFragmentedMp4(Uint8Array.from([...ascii('OggS'), 0, 2, ...new Array(40).fill(0)]))).toBe(false);
    expect(isFragmentedMp4(new Uint8Array(0))).toBe(false);
    expect(isFragmentedMp4(recording().subarray(0, 70))).toBe(false);
  });
});
