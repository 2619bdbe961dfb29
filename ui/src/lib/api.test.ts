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
