import { describe, expect, it, vi } from 'vitest';
import { toApiError } from '../api';

describe('command errors', () => {
  it('keeps the shell’s kind and message', () => {
    expect(toApiError({ kind: 'invalid', message: 'Bad code.' })).toEqual({ kind: 'invalid', message: 'Bad code.' });
  });

  it('turns text and exceptions into errors with a kind', () => {
    expect(toApiError('boom')).toEqual({ kind: 'unknown', message: 'boom' });
    expect(toApiError(new Error('no ipc'))).toEqual({ kind: 'unavailable', message: 'no ipc' });
    expect(toApiError({ kind: 'network' })).toEqual({ kind: 'network', message: '' });
    expect(toApiError(undefined).kind).toBe('unknown');
  });
});

describe('relay commands', () => {
  it('call the shell with the contract’s names and arguments', async () => {
    const calls: [string, unknown][] = [];
    vi.resetModules();
    vi.doMock('@tauri-apps/api/core', () => ({
      invoke: async (cmd: string, args?: unknown) => {
        calls.push([cmd, args]);
        return cmd === 'network_status' ? null : undefined;
      },
    }));
    const api = await import('../api');
    await api.setRelayForFamily(true);
    expect(await api.networkStatus()).toBeNull();
    expect(calls).toEqual([
      ['set_relay_for_family', { enabled: true }],
      ['network_status', undefined],
    ]);
    vi.doUnmock('@tauri-apps/api/core');
  });
});

describe('public mailbox commands', () => {
  it('call the shell with the contract’s names and arguments', async () => {
    const calls: [string, unknown][] = [];
    vi.resetModules();
    vi.doMock('@tauri-apps/api/core', () => ({
      invoke: async (cmd: string, args?: unknown) => {
        calls.push([cmd, args]);
        return cmd === 'mailbox_relays' ? null : undefined;
      },
    }));
    const api = await import('../api');
    await api.setNostr(false);
    await api.setNostrRelays(['ws://127.0.0.1:4869']);
    expect(await api.mailboxRelays()).toBeNull();
    expect(calls).toEqual([
      ['set_nostr', { enabled: false }],
      ['set_nostr_relays', { relays: ['ws://127.0.0.1:4869'] }],
      ['mailbox_relays', undefined],
    ]);
    vi.doUnmock('@tauri-apps/api/core');
  });
});

describe('attachment commands', () => {
  it('send the bytes as the raw body and what describes them as headers', async () => {
    const calls: unknown[][] = [];
    vi.resetModules();
    vi.doMock('@tauri-apps/api/core', () => ({
      invoke: async (...args: unknown[]) => {
        calls.push(args);
        return 'm1';
      },
    }));
    const api = await import('../api');
    const bytes = new Uint8Array([1, 2, 3]);
    expect(await api.sendAttachment('c1', { kind: 'photo', name: '바다 1.jpg', mime: 'image/jpeg', bytes }, 'r9')).toBe(
      'm1',
    );
    expect(calls[0]).toEqual([
      'send_attachment',
      bytes,
      {
        headers: {
          'hearth-chat': 'c1',
          'hearth-kind': 'photo',
          'hearth-name': '%EB%B0%94%EB%8B%A4%201.jpg',
          'hearth-mime': 'image/jpeg',
          'hearth-reply-to': 'r9',
        },
      },
    ]);
    expect(calls[0][1]).toBe(bytes);
    vi.doUnmock('@tauri-apps/api/core');
  });

  it('describe a voice message by its length and at most 64 levels', async () => {
    const api = await import('../api');
    const h = api.attachmentHeaders(
      'c1',
      {
        kind: 'voice',
        name: 'voice.m4a',
        mime: 'audio/mp4; codecs=opus',
        bytes: new Uint8Array(),
        voice: { durationMs: 4321.6, waveform: [...Array.from({ length: 70 }, (_, i) => i * 4), -3] },
      },
      null,
    );
    expect(h['hearth-duration-ms']).toBe('4322');
    const levels = h['hearth-waveform'].split(',').map(Number);
    expect(levels).toHaveLength(64);
    expect(levels.every((v) => v >= 0 && v <= 255)).toBe(true);
    // As WebKitGTK's recorder names it, without the space the core does not take.
    expect(h['hearth-mime']).toBe('audio/mp4;codecs=opus');
    expect('hearth-reply-to' in h).toBe(false);
    expect(Object.values(h).every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
  });

  it('read a blob as bytes however the IPC hands them over, and name blobs by id', async () => {
    const calls: unknown[][] = [];
    let reply: unknown = new Uint8Array([7, 8]).buffer;
    vi.resetModules();
    vi.doMock('@tauri-apps/api/core', () => ({
      invoke: async (...args: unknown[]) => {
        calls.push(args);
        return args[0] === 'blob_bytes' ? reply : '/home/mi-ja/Downloads/sea (2).jpg';
      },
    }));
    const api = await import('../api');
    expect([...new Uint8Array(await api.blobBytes('b1'))]).toEqual([7, 8]);
    reply = [9, 10];
    expect([...new Uint8Array(await api.blobBytes('b1'))]).toEqual([9, 10]);
    reply = new Uint8Array([0, 11, 12]).subarray(1);
    expect([...new Uint8Array(await api.blobBytes('b1'))]).toEqual([11, 12]);
    reply = null;
    await expect(api.blobBytes('b1')).rejects.toMatchObject({ kind: 'unavailable' });
    await api.fetchBlob('b2');
    expect(await api.saveBlob('b3')).toBe('/home/mi-ja/Downloads/sea (2).jpg');
    await api.setFetchMediaEverywhere(true);
    expect(calls.map((c) => [c[0], c[1]])).toEqual([
      ['blob_bytes', { blob: 'b1' }],
      ['blob_bytes', { blob: 'b1' }],
      ['blob_bytes', { blob: 'b1' }],
      ['blob_bytes', { blob: 'b1' }],
      ['fetch_blob', { blob: 'b2' }],
      ['save_blob', { blob: 'b3' }],
      ['set_fetch_media_everywhere', { enabled: true }],
    ]);
    vi.doUnmock('@tauri-apps/api/core');
  });
});
