// The pure parts of voice messages: which recording format to ask for, how loud a moment is,
// the waveform sent with the message, the length as people read it, and what a recording
// error means in words. The browser-bound recorder (recorder.ts) uses these.

import { WAVEFORM_BARS } from '../api';

/**
 * Formats to record in, best first: Opus (small, made for speech) in whichever container the
 * engine writes. Firefox writes Ogg, Chromium WebM, and WebKitGTK (the target webview; its
 * GStreamer recorder writes only MP4, as of 2.50) Opus in MP4. The last two are fallbacks
 * for engines without Opus (Safari writes AAC into MP4): the recording is sent with the
 * format it really has.
 */
export const VOICE_MIMES = [
  'audio/ogg;codecs=opus',
  'audio/webm;codecs=opus',
  'audio/mp4;codecs=opus',
  'audio/webm',
  'audio/mp4',
] as const;

/** The first format `supported` says yes to; null: let the recorder pick its own. */
export function pickVoiceMime(supported: (mime: string) => boolean): string | null {
  for (const m of VOICE_MIMES) {
    try {
      if (supported(m)) return m;
    } catch {
      // An engine that throws for a type it does not know: not supported.
    }
  }
  return null;
}

/**
 * How loud a slice of sound is, 0..1: its RMS on a decibel scale from -60 dB (silence) to
 * 0 dB, so speech at a normal distance fills the meter instead of hugging the bottom.
 */
export function levelOf(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length);
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/**
 * The waveform to send: `levels` (0..1, one per moment of the recording) in at most `bars`
 * groups, each the loudest of its moments, as integers 0..255. Fewer moments than bars give
 * one bar each.
 */
export function waveform(levels: readonly number[], bars = WAVEFORM_BARS): number[] {
  const n = Math.min(bars, levels.length);
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    const from = Math.floor((b * levels.length) / n);
    const to = Math.max(from + 1, Math.floor(((b + 1) * levels.length) / n));
    let peak = 0;
    for (let i = from; i < to; i++) peak = Math.max(peak, levels[i]);
    out.push(Math.round(Math.min(1, Math.max(0, peak)) * 255));
  }
  return out;
}

/** The name a recording is sent under: its time, and the extension of its format. */
export function voiceFileName(mime: string, at: Date): string {
  const m = mime.toLowerCase();
  const ext = m.includes('ogg') ? 'ogg' : m.includes('webm') ? 'webm' : m.includes('mp4') ? 'm4a' : 'audio';
  const p = (n: number) => String(n).padStart(2, '0');
  const day = `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())}`;
  return `voice-${day}-${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}.${ext}`;
}

/** "0:07", "12:30", "1:02:03": how long a recording is, or how far playback is. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Why recording did not work, as the UI says it (each a `voice.error.*` key). */
export const RECORDER_ERRORS = ['no_microphone', 'denied', 'busy', 'unsupported', 'too_short', 'unfinished', 'failed'] as const;
export type RecorderError = (typeof RECORDER_ERRORS)[number];

/** Thrown by the recorder for problems of its own (no recorder, nothing recorded). */
export class VoiceError extends Error {
  constructor(readonly reason: RecorderError) {
    super(reason);
    this.name = 'VoiceError';
  }
}

/**
 * Resolves to true when `target` fires `type`, or to false if `ms` pass first: for events
 * that may never come (a recorder that is stuck does not say so).
 */
export function eventWithin(target: EventTarget, type: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const fired = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, fired);
      resolve(false);
    }, ms);
    target.addEventListener(type, fired, { once: true });
  });
}

/** What a failed `getUserMedia` or `MediaRecorder` means for the person. */
export function recorderError(e: unknown): RecorderError {
  if (e instanceof VoiceError) return e.reason;
  const name = e && typeof e === 'object' && 'name' in e ? String((e as { name: unknown }).name) : '';
  switch (name) {
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'no_microphone';
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    case 'NotSupportedError':
      // A recorder that refuses every format it was offered.
      return 'unsupported';
    default:
      return 'failed';
  }
}

export function recorderErrorKey(e: RecorderError): string {
  return `voice.error.${e}`;
}
