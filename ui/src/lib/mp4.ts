// Fragmented MP4 (ISO BMFF, ISO/IEC 14496-12) as WebKitGTK's MediaRecorder writes a voice
// message: a header (`moov`) written before the length was known, then fragments (`moof` +
// `mdat`) of about a second each. The header's `mehd` box, where a fragmented file says how
// long it is, is left at 0, and WebKitGTK's player (GStreamer), given the file itself, takes it
// to be as long as its first fragment until it has played it through once: every seek past
// that is cut short there and ends playback. The voice player therefore hands such a file to a
// MediaSource (`isFragmentedMp4`, see playback.ts), and where it cannot, fills in that one
// field from the fragments' own timing (`withLength`), so the player knows the length from the
// start.
//
// The length comes from the file, not from the message's `duration_ms` (the recorder's clock,
// which is what people are shown): declared shorter than the sound, the player would cut seeks
// short at the declared end. Only the field changes, in a copy. Anything else is handed back as
// it came: Ogg, WebM, WAV, an MP4 that already says its length, one without an `mehd` box
// (adding a box would move every byte after it, and the fragments point at their data by
// offset), and a file this cannot read. Hand-written rather than a dependency: it reads a
// dozen box types and writes one number.

type Box = { type: string; body: number; end: number };

/** What a track's fragments say about it, in its own timescale. */
type Track = { timescale: number; defaultDuration: number; end: number; next: number };

/** The boxes between `from` and `to`; stops at the first that does not fit. */
function* boxes(v: DataView, from: number, to: number): Generator<Box> {
  let at = from;
  while (at + 8 <= to) {
    let size = v.getUint32(at);
    let body = at + 8;
    if (size === 1) {
      size = uint64(v, at + 8);
      body = at + 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < body - at || at + size > to) return;
    const type = String.fromCharCode(v.getUint8(at + 4), v.getUint8(at + 5), v.getUint8(at + 6), v.getUint8(at + 7));
    yield { type, body, end: at + size };
    at += size;
  }
}

function child(v: DataView, parent: Box, type: string): Box | undefined {
  for (const b of boxes(v, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

function uint64(v: DataView, at: number): number {
  return v.getUint32(at) * 2 ** 32 + v.getUint32(at + 4);
}

/** A full box's version (its body's first byte) and flags (the next three). */
const version = (v: DataView, b: Box) => v.getUint8(b.body);
const flags = (v: DataView, b: Box) => v.getUint32(b.body) & 0xffffff;

/** `mvhd` and `mdhd` alike: the timescale, after the creation and modification times. */
const timescaleOf = (v: DataView, b: Box) => v.getUint32(b.body + (version(v, b) === 1 ? 20 : 12));

/** The `mehd` field to fill in, the movie's timescale and its tracks (null: no such field). */
function header(v: DataView, moov: Box) {
  const mvhd = child(v, moov, 'mvhd');
  const mvex = child(v, moov, 'mvex');
  const mehd = mvex && child(v, mvex, 'mehd');
  if (!mvhd || !mvex || !mehd) return null;
  const tracks = new Map<number, Track>();
  for (const trak of boxes(v, moov.body, moov.end)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(v, trak, 'tkhd');
    const mdia = child(v, trak, 'mdia');
    const mdhd = mdia && child(v, mdia, 'mdhd');
    if (!tkhd || !mdhd) continue;
    const id = v.getUint32(tkhd.body + (version(v, tkhd) === 1 ? 20 : 12));
    tracks.set(id, { timescale: timescaleOf(v, mdhd), defaultDuration: 0, end: 0, next: 0 });
  }
  for (const trex of boxes(v, mvex.body, mvex.end)) {
    const track = trex.type === 'trex' ? tracks.get(v.getUint32(trex.body + 4)) : undefined;
    if (track) track.defaultDuration = v.getUint32(trex.body + 12);
  }
  const wide = version(v, mehd) === 1;
  const declared = wide ? uint64(v, mehd.body + 4) : v.getUint32(mehd.body + 4);
  return { at: mehd.body + 4, wide, declared, timescale: timescaleOf(v, mvhd), tracks };
}

/** Reads one `traf`: where its samples start and how long they last; moves its track's end on. */
function fragment(v: DataView, traf: Box, tracks: Map<number, Track>): void {
  const tfhd = child(v, traf, 'tfhd');
  if (!tfhd) return;
  const track = tracks.get(v.getUint32(tfhd.body + 4));
  if (!track) return;
  // tfhd's optional fields, in order: base data offset (8), sample description index (4),
  // default sample duration (4).
  const f = flags(v, tfhd);
  const defaultDuration =
    f & 0x08 ? v.getUint32(tfhd.body + 8 + (f & 0x01 ? 8 : 0) + (f & 0x02 ? 4 : 0)) : track.defaultDuration;
  const tfdt = child(v, traf, 'tfdt');
  // A fragment says when it starts (WebKitGTK repeats its last one: counted once), else it
  // follows the one before.
  let at = tfdt ? (version(v, tfdt) === 1 ? uint64(v, tfdt.body + 4) : v.getUint32(tfdt.body + 4)) : track.next;
  for (const trun of boxes(v, traf.body, traf.end)) {
    if (trun.type !== 'trun') continue;
    const tf = flags(v, trun);
    const count = v.getUint32(trun.body + 4);
    // Optional: data offset (4), first sample's flags (4); then per sample, each optional:
    // duration, size, flags, composition time offset (4 each).
    let p = trun.body + 8 + (tf & 0x01 ? 4 : 0) + (tf & 0x04 ? 4 : 0);
    const perSample = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => tf & bit).length;
    if (p + count * perSample > trun.end) return;
    for (let i = 0; i < count; i++, p += perSample) at += tf & 0x100 ? v.getUint32(p) : defaultDuration;
  }
  track.next = at;
  track.end = Math.max(track.end, at);
}

/** The file's header (`moov`), if it starts as an MP4 does. */
function movie(v: DataView): Box | undefined {
  for (const b of boxes(v, 0, v.byteLength)) if (b.type === 'moov') return b;
  return undefined;
}

/** Whether `bytes` are a fragmented MP4: its header announces fragments (`mvex`). */
export function isFragmentedMp4(bytes: Uint8Array): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const moov = movie(v);
    return moov !== undefined && child(v, moov, 'mvex') !== undefined;
  } catch {
    return false;
  }
}

/**
 * `bytes` with the length of a fragmented MP4 filled in where its header leaves it at 0 (a
 * copy), or `bytes` themselves when there is nothing to fill in or the file cannot be read.
 */
export function withLength(bytes: Uint8Array): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    let head: ReturnType<typeof header> = null;
    for (const b of boxes(v, 0, v.byteLength)) {
      if (b.type === 'moov') head = header(v, b);
      else if (b.type === 'moof' && head) {
        for (const traf of boxes(v, b.body, b.end)) if (traf.type === 'traf') fragment(v, traf, head.tracks);
      }
    }
    if (!head || head.declared !== 0 || head.timescale === 0) return bytes;
    let length = 0;
    for (const t of head.tracks.values()) {
      if (t.timescale > 0) length = Math.max(length, Math.ceil((t.end * head.timescale) / t.timescale));
    }
    if (length === 0 || (!head.wide && length > 0xffffffff) || length > Number.MAX_SAFE_INTEGER) return bytes;
    const out = bytes.slice();
    const w = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (head.wide) {
      w.setUint32(head.at, Math.floor(length / 2 ** 32));
      w.setUint32(head.at + 4, length % 2 ** 32);
    } else {
      w.setUint32(head.at, length);
    }
    return out;
  } catch {
    // A field past the end of the file: not a file this can read.
    return bytes;
  }
}
