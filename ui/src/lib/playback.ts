// How a voice message's bytes reach the <audio> element that plays it. A fragmented MP4 (what
// WebKitGTK records, mp4.ts) goes through a MediaSource where the engine has one for its format:
// given such a file from a plain URL, WebKitGTK's player takes it to be as long as its first
// fragment until it has played it through once, cutting every seek short there, and one over
// 2 MiB (a minute and a half at the recorder's default bitrate) it often does not play at all;
// handed all of it through a MediaSource, it knows the true length at once. Anything else (Ogg,
// WebM, WAV), and a fragmented MP4 the MediaSource does not take (no MediaSource, or a file
// larger than a source buffer holds: about 16 MB in WebKitGTK 2.50), plays from a plain object
// URL, an MP4 with its length filled into its header (`withLength`).
//
// Browser-bound, so untested here; what it reads of the file is in mp4.ts, with tests.

import { isFragmentedMp4, withLength } from './mp4';
import { eventWithin } from './voice';

/** How long the <audio> element may take to open its MediaSource: it does so as soon as it has the URL. */
const OPEN_WAIT_MS = 5000;
/** How long the MediaSource may take to read the whole file: milliseconds for a voice message. */
const APPEND_WAIT_MS = 10_000;

/** A URL for an <audio> element, and whether it plays: false, use `fileUrl` instead. */
export type Streamed = { url: string; ready: Promise<boolean> };

/**
 * A MediaSource for a fragmented MP4, as an object URL to give the <audio> element at once:
 * `ready` settles when it has all of the file (true), or when it turned it down (false). Null
 * for anything else, and where the engine has no MediaSource for `mime`.
 */
export function streamed(bytes: Uint8Array, mime: string): Streamed | null {
  if (typeof MediaSource === 'undefined' || !isFragmentedMp4(bytes)) return null;
  try {
    if (!MediaSource.isTypeSupported(mime)) return null;
  } catch {
    return null;
  }
  const source = new MediaSource();
  return { url: URL.createObjectURL(source), ready: fill(source, bytes, mime) };
}

async function fill(source: MediaSource, bytes: Uint8Array, mime: string): Promise<boolean> {
  try {
    if (source.readyState !== 'open' && !(await eventWithin(source, 'sourceopen', OPEN_WAIT_MS))) return false;
    const buffer = source.addSourceBuffer(mime);
    let failed = false;
    buffer.addEventListener('error', () => (failed = true), { once: true });
    const appended = eventWithin(buffer, 'updateend', APPEND_WAIT_MS);
    buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
    if (!(await appended) || failed || buffer.buffered.length === 0) return false;
    // The whole file is in: its length is where its sound ends.
    source.endOfStream();
    return true;
  } catch {
    // Refused: a format it cannot read after all, or more than a source buffer holds
    // (QuotaExceededError).
    return false;
  }
}

/** The file itself as an object URL, an MP4 with its length filled in. */
export function fileUrl(bytes: Uint8Array, mime: string): string {
  return URL.createObjectURL(new Blob([withLength(bytes) as Uint8Array<ArrayBuffer>], { type: mime }));
}
