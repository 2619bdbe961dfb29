// Records one voice message: the microphone (getUserMedia) into a MediaRecorder, in Opus where
// the engine has it (see voice.ts), and the same stream into an AnalyserNode for the live level
// meter and the waveform sent with the message. `stop()` or `cancel()` always lets go of the
// microphone, so its light goes off as soon as recording ends.
//
// Browser-bound, so untested here; the decisions it makes are in voice.ts, with tests.

import { VoiceError, eventWithin, levelOf, pickVoiceMime, waveform } from './voice';

/** How often the level is read: the meter's frame rate and the waveform's resolution. */
const LEVEL_EVERY_MS = 50;
/** MediaRecorder hands its data over in slices this long, so memory grows evenly. */
const SLICE_MS = 1000;
/** Shorter than this is a slip of the finger, not a message. */
export const MIN_RECORDING_MS = 700;
/** Recording stops (and the message is sent) at this length: a message, not a meeting. */
export const MAX_RECORDING_MS = 15 * 60_000;
/**
 * How long `stop()` waits for the recorder to hand over the end of the recording: finishing
 * the file takes it well under a second; one that takes this long is stuck, not slow.
 */
const STOP_WAIT_MS = 5000;

export type Recording = { bytes: Uint8Array; mime: string; durationMs: number; waveform: number[] };

type Hooks = {
  /** The level now, 0..1, every LEVEL_EVERY_MS. */
  onLevel: (level: number) => void;
  /** Recording broke off by itself (the microphone was unplugged, the recorder failed). */
  onFail: (e: unknown) => void;
};

export class Recorder {
  private readonly chunks: Blob[] = [];
  private readonly levels: number[] = [];
  private readonly startedAt = performance.now();
  private timer: ReturnType<typeof setInterval> | null = null;
  private released = false;

  private constructor(
    private readonly stream: MediaStream,
    private readonly recorder: MediaRecorder,
    private readonly asked: string | null,
    private readonly audio: AudioContext | null,
    analyser: AnalyserNode | null,
    hooks: Hooks,
  ) {
    recorder.ondataavailable = (e) => {
      if (e.data.size > 0) this.chunks.push(e.data);
    };
    recorder.onerror = (e) => {
      this.release();
      hooks.onFail((e as Event & { error?: unknown }).error ?? e);
    };
    for (const track of stream.getAudioTracks()) {
      track.onended = () => {
        if (this.released) return;
        this.release();
        hooks.onFail(new DOMException('The microphone went away.', 'NotFoundError'));
      };
    }
    if (analyser) {
      const buf = new Float32Array(analyser.fftSize);
      this.timer = setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        const level = levelOf(buf);
        this.levels.push(level);
        hooks.onLevel(level);
      }, LEVEL_EVERY_MS);
    }
  }

  /** Asks for the microphone and starts recording. Rejects as `getUserMedia` does. */
  static async start(hooks: Hooks): Promise<Recorder> {
    const devices = typeof navigator === 'undefined' ? undefined : navigator.mediaDevices;
    if (!devices?.getUserMedia || typeof MediaRecorder === 'undefined') throw new VoiceError('unsupported');
    const stream = await devices.getUserMedia({ audio: true });
    let audio: AudioContext | null = null;
    try {
      const asked = pickVoiceMime((m) => MediaRecorder.isTypeSupported(m));
      const recorder = asked ? new MediaRecorder(stream, { mimeType: asked }) : new MediaRecorder(stream);
      let analyser: AnalyserNode | null = null;
      try {
        // The meter and waveform are a nicety: without Web Audio the message is still sent.
        audio = new AudioContext();
        void audio.resume();
        analyser = audio.createAnalyser();
        analyser.fftSize = 1024;
        audio.createMediaStreamSource(stream).connect(analyser);
      } catch {
        void audio?.close();
        audio = null;
        analyser = null;
      }
      const r = new Recorder(stream, recorder, asked, audio, analyser, hooks);
      recorder.start(SLICE_MS);
      return r;
    } catch (e) {
      for (const t of stream.getTracks()) t.stop();
      void audio?.close();
      throw e;
    }
  }

  /** Milliseconds since recording started. */
  elapsed(): number {
    return performance.now() - this.startedAt;
  }

  /**
   * Ends the recording and hands it over; rejects with a VoiceError if there is nothing to
   * send, or if the recorder never finishes (its last data would be missing). The microphone
   * is let go either way.
   */
  async stop(): Promise<Recording> {
    const durationMs = Math.min(this.elapsed(), MAX_RECORDING_MS);
    try {
      if (this.recorder.state !== 'inactive') {
        const stopped = eventWithin(this.recorder, 'stop', STOP_WAIT_MS);
        this.recorder.stop();
        if (!(await stopped)) throw new VoiceError('unfinished');
      }
    } finally {
      this.release();
    }
    if (durationMs < MIN_RECORDING_MS) throw new VoiceError('too_short');
    // The format it really wrote: the data's own type, else what the recorder says it uses.
    const mime = this.chunks.find((c) => c.type)?.type || this.recorder.mimeType || this.asked || 'audio/webm';
    const blob = new Blob(this.chunks, { type: mime });
    if (blob.size === 0) throw new VoiceError('failed');
    return {
      bytes: new Uint8Array(await blob.arrayBuffer()),
      mime,
      durationMs: Math.round(durationMs),
      waveform: waveform(this.levels),
    };
  }

  /** Throws the recording away. */
  cancel(): void {
    this.recorder.ondataavailable = null;
    if (this.recorder.state !== 'inactive') this.recorder.stop();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.stream.getTracks()) t.stop();
    void this.audio?.close();
  }
}
