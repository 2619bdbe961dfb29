import { describe, expect, it } from 'vitest';
import type { MailboxRelayStatus, MailboxRelaysStatus } from '../api';
import {
  MAILBOXES_STATES,
  MAILBOX_RELAY_STATES,
  mailboxHost,
  mailboxRelayStateKey,
  mailboxRows,
  mailboxesState,
  mailboxesStateKey,
  relayList,
  sameRelays,
  waitingIn,
} from './mailboxes';

function relay(url: string, r: Partial<MailboxRelayStatus> = {}): MailboxRelayStatus {
  return { url, connected: false, accepted: 0, refused: 0, dropped: 0, fetched_at: null, error: null, ...r };
}

const status = (relays: MailboxRelayStatus[]): MailboxRelaysStatus => ({ relays, retrying: 0 });
const on = { lan_only: false, nostr: true };

describe('the public mailboxes as a whole', () => {
  it('are unused in LAN-only mode, whatever else is set', () => {
    expect(mailboxesState({ lan_only: true, nostr: true }, status([]))).toBe('lan_only');
    expect(mailboxesState({ lan_only: true, nostr: false }, null)).toBe('lan_only');
  });

  it('are off when turned off', () => {
    expect(mailboxesState({ lan_only: false, nostr: false }, undefined)).toBe('off');
  });

  it('are loading until both the settings and the status are read', () => {
    expect(mailboxesState(null, status([]))).toBe('loading');
    expect(mailboxesState(on, undefined)).toBe('loading');
  });

  it('say when they are turned on but this run does not use them', () => {
    expect(mailboxesState(on, null)).toBe('not_running');
    expect(mailboxesState(on, status([relay('wss://nos.lol')]))).toBe('in_use');
  });

  it('have distinct words for every state', () => {
    expect(new Set(MAILBOXES_STATES.map(mailboxesStateKey)).size).toBe(MAILBOXES_STATES.length);
  });
});

describe('each mailbox relay', () => {
  it('is connected or not, with what it took and what went wrong last', () => {
    const rows = mailboxRows(
      status([
        relay('wss://relay.damus.io/', { connected: true, accepted: 4 }),
        relay('ws://127.0.0.1:4869', { error: 'connection refused' }),
        relay('wss://nos.lol', { error: '  ' }),
      ]),
    );
    expect(rows).toEqual([
      {
        url: 'wss://relay.damus.io/',
        host: 'relay.damus.io',
        state: 'connected',
        key: 'settings.mailbox_state.connected',
        accepted: 4,
        error: null,
      },
      {
        url: 'ws://127.0.0.1:4869',
        host: '127.0.0.1:4869',
        state: 'not_connected',
        key: 'settings.mailbox_state.not_connected',
        accepted: 0,
        error: 'connection refused',
      },
      expect.objectContaining({ host: 'nos.lol', error: null }),
    ]);
  });

  it('has distinct words for every state', () => {
    expect(new Set(MAILBOX_RELAY_STATES.map(mailboxRelayStateKey)).size).toBe(MAILBOX_RELAY_STATES.length);
  });
});

describe('where a message waits', () => {
  it('names relays by host, with the port if there is one', () => {
    expect(mailboxHost('wss://relay.damus.io')).toBe('relay.damus.io');
    expect(mailboxHost(' wss://nos.lol/ ')).toBe('nos.lol');
    expect(mailboxHost('ws://127.0.0.1:4869/')).toBe('127.0.0.1:4869');
    expect(mailboxHost('not a url')).toBe('not a url');
  });

  it('names the first few, each once, and counts the rest', () => {
    expect(waitingIn(['wss://relay.damus.io/', 'wss://nos.lol'])).toEqual({
      hosts: 'relay.damus.io, nos.lol',
      more: 0,
    });
    expect(
      waitingIn(['wss://a.example', 'wss://a.example/', 'wss://b.example', 'wss://c.example', 'wss://d.example', 'wss://e.example']),
    ).toEqual({ hosts: 'a.example, b.example, c.example', more: 2 });
    expect(waitingIn([])).toEqual({ hosts: '', more: 0 });
  });
});

describe('the relays in use and the saved ones', () => {
  it('are the same in any order, with or without a slash at the end', () => {
    expect(sameRelays(['wss://nos.lol/', 'ws://127.0.0.1:4869/'], ['ws://127.0.0.1:4869', 'wss://nos.lol'])).toBe(true);
    expect(sameRelays(['ws://127.0.0.1:4869/'], ['wss://relay.damus.io', 'wss://nos.lol'])).toBe(false);
    expect(sameRelays([], [])).toBe(true);
  });
});

describe('the relay list as typed', () => {
  it('takes one URL per line, without blank lines or spaces around', () => {
    expect(relayList(' wss://nos.lol \n\n  \nws://127.0.0.1:4869\n')).toEqual(['wss://nos.lol', 'ws://127.0.0.1:4869']);
    expect(relayList('   ')).toEqual([]);
  });
});
