import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RECORDER_ERRORS,
  VOICE_MIMES,
  VoiceError,
  eventWithin,
  formatDuration,
  levelOf,
  pickVoiceMime,
  recorderError,
  voiceFileName,
  waveform,
} from './voice';

describe('the recording format', () => {
  it('takes Ogg Opus where the engine writes it (Firefox)', () => {
    expect(pickVoiceMime(() => true)).toBe('audio/ogg;codecs=opus');
  });

  it('takes WebM Opus where only that is offered (Chromium)', () => {
    expect(pickVoiceMime((m) => m.startsWith('audio/webm'))).toBe('audio/webm;codecs=opus');
  });

  it('takes Opus in MP4 where the engine writes only MP4 (WebKitGTK)', () => {
    expect(pickVoiceMime((m) => m.startsWith('audio/mp4'))).toBe('audio/mp4;codecs=opus');
  });

  it('falls back to what the engine has, in order, and then to its own choice', () => {
    expect(pickVoiceMime((m) => m === 'audio/webm' || m === 'audio/mp4')).toBe('audio/webm');
    expect(pickVoiceMime((m) => m === 'audio/mp4')).toBe('audio/mp4');
    expect(pickVoiceMime(() => false)).toBeNull();
  });

  it('treats a type check that throws as a no', () => {
    expect(
      pickVoiceMime((m) => {
        if (m.includes('ogg')) throw new Error('unknown type');
        return true;
      }),
    ).toBe('audio/webm;codecs=opus');
  });

  it('offers Opus first', () => {
    expect(VOICE_MIMES.slice(0, 3).every((m) => m.endsWith('codecs=opus'))).toBe(true);
  });
});

describe('the level of a moment', () => {
  it('is nothing for silence and full for a full-scale signal', () => {
    expect(levelOf(new Float32Array(256))).toBe(0);
    expect(levelOf([])).toBe(0);
    expect(levelOf(new Float32Array(256).fill(1))).toBe(1);
  });

  it('grows with loudness on a decibel scale', () => {
    const quiet = levelOf(new Float32Array(256).fill(0.01)); // -40 dB
    const speech = levelOf(new Float32Array(256).fill(0.1)); // -20 dB
    expect(quiet).toBeCloseTo(1 / 3, 5);
    expect(speech).toBeCloseTo(2 / 3, 5);
    expect(levelOf(new Float32Array(256).fill(0.0001))).toBe(0);
  });

  it('reads negative samples like positive ones', () => {
    const wave = Float32Array.from({ length: 256 }, (_, i) => (i % 2 ? 0.5 : -0.5));
    expect(levelOf(wave)).toBeCloseTo(levelOf(new Float32Array(256).fill(0.5)), 5);
  });
});

describe('the waveform sent with a voice message', () => {
  it('has at most 64 bars of 0..255', () => {
    const levels = Array.from({ length: 1000 }, (_, i) => (i % 10) / 9);
    const w = waveform(levels);
    expect(w).toHaveLength(64);
    expect(w.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
  });

  it('keeps the loudest moment of each bar', () => {
    expect(waveform([0, 1, 0, 0, 0.5, 0], 2)).toEqual([255, 128]);
  });

  it('has one bar per moment when the recording is short', () => {
    expect(waveform([0, 0.5, 1])).toEqual([0, 128, 255]);
    expect(waveform([])).toEqual([]);
  });

  it('clamps levels out of range', () => {
    expect(waveform([-1, 2])).toEqual([0, 255]);
  });
});

describe('the name a recording is sent under', () => {
  it('says when it was made, with the extension of its real format', () => {
    const at = new Date(2025, 0, 2, 3, 4, 5);
    expect(voiceFileName('audio/ogg;codecs=opus', at)).toBe('voice-2025-01-02-030405.ogg');
    expect(voiceFileName('audio/webm;codecs=opus', at)).toBe('voice-2025-01-02-030405.webm');
    expect(voiceFileName('audio/mp4', at)).toBe('voice-2025-01-02-030405.m4a');
    expect(voiceFileName('', at)).toBe('voice-2025-01-02-030405.audio');
  });
});

describe('lengths', () => {
  it('read as minutes and seconds', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7_900)).toBe('0:07');
    expect(formatDuration(750_000)).toBe('12:30');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDuration(-5)).toBe('0:00');
  });
});

describe('waiting for the recorder to finish', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends when it says it stopped', async () => {
    vi.useFakeTimers();
    const recorder = new EventTarget();
    const stopped = eventWithin(recorder, 'stop', 5000);
    await vi.advanceTimersByTimeAsync(300);
    recorder.dispatchEvent(new Event('stop'));
    await expect(stopped).resolves.toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up on a recorder that never says so', async () => {
    vi.useFakeTimers();
    const recorder = new EventTarget();
    const stopped = eventWithin(recorder, 'stop', 5000);
    await vi.advanceTimersByTimeAsync(4999);
    recorder.dispatchEvent(new Event('dataavailable'));
    await vi.advanceTimersByTimeAsync(1);
    await expect(stopped).resolves.toBe(false);
    // A stop that comes after all changes nothing.
    recorder.dispatchEvent(new Event('stop'));
    await expect(stopped).resolves.toBe(false);
  });

  it('has words for a recorder that never finished', () => {
    expect(recorderError(new VoiceError('unfinished'))).toBe('unfinished');
    expect(RECORDER_ERRORS).toContain('unfinished');
  });
});

describe('recording errors', () => {
  const named = (name: string) => Object.assign(new Error('x'), { name });

  it('say there is no microphone', () => {
    expect(recorderError(named('NotFoundError'))).toBe('no_microphone');
    expect(recorderError(named('OverconstrainedError'))).toBe('no_microphone');
  });

  it('say the microphone is not allowed', () => {
    expect(recorderError(named('NotAllowedError'))).toBe('denied');
    expect(recorderError(named('SecurityError'))).toBe('denied');
  });

  it('say the microphone is busy', () => {
    expect(recorderError(named('NotReadableError'))).toBe('busy');
  });

  it('say recording is not possible here', () => {
    expect(recorderError(new VoiceError('unsupported'))).toBe('unsupported');
    expect(recorderError(named('NotSupportedError'))).toBe('unsupported');
  });

  it('keep the recorder’s own reasons and fall back to a general failure', () => {
    expect(recorderError(new VoiceError('too_short'))).toBe('too_short');
    expect(recorderError(new Error('boom'))).toBe('failed');
    expect(recorderError('text')).toBe('failed');
    expect(recorderError(null)).toBe('failed');
  });

  it('are all ones the UI has words for', () => {
    expect(RECORDER_ERRORS).toEqual(expect.arrayContaining(['no_microphone', 'denied', 'unsupported', 'failed']));
  });
});
