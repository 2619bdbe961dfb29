import { describe, expect, it } from 'vitest';
import type { NetworkStatus, PublicStatus, RelayStatus } from '../api';
import {
  NETWORK_MODES,
  PUBLIC_STATES,
  MAILBOX_KEPT_KEY,
  NO_MAILBOX_KEY,
  RELAY_STATES,
  findRelay,
  mailboxWords,
  networkMode,
  networkModeKey,
  publicLabel,
  publicStateKey,
  relayLabel,
  relayPeer,
  relayRows,
  relayStateKey,
} from './network';

const A = '/ip4/203.0.113.5/tcp/4001/p2p/12D3KooWAlpha';
const B = '/dns4/relay.example/tcp/4001/p2p/12D3KooWBeta';

function relay(addr: string, r: Partial<RelayStatus> = {}): RelayStatus {
  return { addr, connected: false, reserved: false, kept: 0, mailbox: true, public: false, error: null, ...r };
}

function status(relays: RelayStatus[], lan_only = false, pub: PublicStatus | null = null): NetworkStatus {
  return { device: 'dev', listen: [], lan_only, peers: [], relays, public: pub, public_mailboxes: false };
}

function plane(p: Partial<PublicStatus> = {}): PublicStatus {
  return { dht_mode: 'client', connected: 0, dht_peers: 0, relay_candidates: 0, problem: null, ...p };
}

describe('relay status labels', () => {
  it('says a relay is not connected, connected, or reachable through it', () => {
    expect(relayLabel(relay(A), false)).toEqual({
      state: 'not_connected',
      key: 'settings.relay_state.not_connected',
      mailbox: null,
    });
    expect(relayLabel(relay(A, { connected: true }), false)).toEqual({
      state: 'connected',
      key: 'settings.relay_state.connected',
      mailbox: null,
    });
    expect(relayLabel(relay(A, { connected: true, reserved: true }), false)).toEqual({
      state: 'reachable',
      key: 'settings.relay_state.reachable',
      mailbox: null,
    });
  });

  it('counts the conversations its mailbox keeps, only while connected', () => {
    const kept = (r: RelayStatus) => relayLabel(r, false).mailbox;
    expect(kept(relay(A, { connected: true, reserved: true, kept: 3 }))).toEqual({
      kind: 'keeps',
      key: MAILBOX_KEPT_KEY,
      count: 3,
    });
    expect(kept(relay(A, { connected: true, kept: 1 }))?.count).toBe(1);
    expect(kept(relay(A, { connected: false, kept: 4 }))).toBeNull();
    expect(kept(relay(A, { connected: true, kept: 0 }))).toBeNull();
  });

  it('says a relay without a mailbox passes messages on but keeps none for family offline', () => {
    const none = { kind: 'none', key: NO_MAILBOX_KEY, count: null };
    // A stock libp2p relay (a Kubo node): reachable through it, yet nothing is kept there.
    const kubo = relay(A, { connected: true, reserved: true, mailbox: false });
    expect(mailboxWords(kubo, 'reachable')).toEqual(none);
    expect(relayLabel(kubo, false)).toEqual({
      state: 'reachable',
      key: 'settings.relay_state.reachable',
      mailbox: none,
    });
    // Never "keeps N conversations", whatever the count says.
    expect(relayLabel({ ...kubo, kept: 2 }, false).mailbox).toEqual(none);
    // What it answered stays true while it is away.
    expect(relayLabel(relay(A, { mailbox: false }), false).mailbox).toEqual(none);
  });

  it('says nothing of a mailbox in LAN-only mode, for an unknown relay, or before it keeps anything', () => {
    expect(mailboxWords(undefined, 'not_connected')).toBeNull();
    expect(mailboxWords(relay(A, { connected: true, mailbox: false }), 'unused')).toBeNull();
    expect(relayLabel(relay(A, { connected: true, mailbox: false }), true).mailbox).toBeNull();
    expect(mailboxWords(relay(A, { connected: true }), 'connected')).toBeNull();
  });

  it('does not claim reachability through a relay it is not connected to', () => {
    expect(relayLabel(relay(A, { connected: false, reserved: true }), false).state).toBe('not_connected');
  });

  it('treats a relay the network does not know as not connected', () => {
    expect(relayLabel(undefined, false).state).toBe('not_connected');
  });

  it('says relays are not used in LAN-only mode', () => {
    expect(relayLabel(relay(A, { connected: true, reserved: true, kept: 2 }), true)).toEqual({
      state: 'unused',
      key: 'settings.relay_state.unused',
      mailbox: null,
    });
  });

  it('has distinct words for every state', () => {
    expect(new Set(RELAY_STATES.map(relayStateKey)).size).toBe(RELAY_STATES.length);
  });
});

describe('matching configured relays with the network', () => {
  it('reads the peer id at the end of an address', () => {
    expect(relayPeer(A)).toBe('12D3KooWAlpha');
    expect(relayPeer('/ip4/1.2.3.4/tcp/4001')).toBeNull();
    expect(relayPeer('/ip4/1.2.3.4/tcp/4001/p2p/')).toBeNull();
  });

  it('finds a relay by address, else by peer id', () => {
    const live = [relay(A, { connected: true }), relay('/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWBeta')];
    expect(findRelay(` ${A} `, live)).toBe(live[0]);
    expect(findRelay(B, live)).toBe(live[1]);
    expect(findRelay('/ip4/9.9.9.9/tcp/4001/p2p/12D3KooWGamma', live)).toBeUndefined();
    expect(findRelay('/ip4/9.9.9.9/tcp/4001', live)).toBeUndefined();
  });

  it('gives one row per configured relay, in order', () => {
    const rows = relayRows([B, A], status([relay(A, { connected: true, reserved: true, kept: 2 })]), false);
    expect(rows.map((r) => [r.addr, r.state, r.mailbox?.count ?? null])).toEqual([
      [B, 'not_connected', null],
      [A, 'reachable', 2],
    ]);
  });

  it('shows every relay as not connected while networking is off', () => {
    expect(relayRows([A, B], null, false).map((r) => r.state)).toEqual(['not_connected', 'not_connected']);
  });

  it('says why a relay could not be reached, until it is', () => {
    const refused = 'connection refused by 203.0.113.5:4001';
    const live = status([
      relay(A, { error: refused }),
      relay(B, { connected: true, reserved: true, error: 'an old failure' }),
    ]);
    expect(relayRows([A, B], live, false).map((r) => [r.state, r.error])).toEqual([
      ['not_connected', refused],
      ['reachable', null],
    ]);
    const noReservation = status([relay(A, { connected: true, error: 'the relay refused a reservation' })]);
    expect(relayRows([A], noReservation, false)[0].error).toBe('the relay refused a reservation');
    expect(relayRows([A], status([relay(A, { error: refused })], true), false)[0].error).toBeNull();
    expect(relayRows([A], null, false)[0].error).toBeNull();
  });

  it('marks relays unused when the settings or the network are LAN-only', () => {
    const live = status([relay(A, { connected: true })]);
    expect(relayRows([A], live, true)[0].state).toBe('unused');
    expect(relayRows([A], status([], true), false)[0].state).toBe('unused');
  });
});

describe('the network mode shown in the settings', () => {
  it('says what the network runs under, from its status', () => {
    expect(networkMode(undefined)).toBe('loading');
    expect(networkMode(null)).toBe('off');
    expect(networkMode(status([], true))).toBe('lan_only');
    expect(networkMode(status([]))).toBe('internet');
    expect(NETWORK_MODES.map(networkModeKey)).toEqual([
      'settings.mode.loading',
      'settings.mode.lan_only',
      'settings.mode.internet',
      'settings.mode.off',
    ]);
  });
});

describe('the public network in the settings', () => {
  it('says nothing before the first answer, while networking is off, or in LAN-only mode', () => {
    expect(publicLabel(undefined)).toBeNull();
    expect(publicLabel(null)).toBeNull();
    expect(publicLabel(status([], true, plane({ connected: 5 })))).toBeNull();
  });

  it('says it is not used when the node runs without it', () => {
    expect(publicLabel(status([]))).toEqual({
      state: 'off',
      key: 'settings.public_state.off',
      count: 0,
      problem: null,
      relays: 0,
    });
  });

  it('counts the public computers connected', () => {
    expect(publicLabel(status([], false, plane()))).toMatchObject({ state: 'connecting', count: 0 });
    expect(publicLabel(status([], false, plane({ connected: 12, dht_peers: 9 })))).toMatchObject({
      state: 'connected',
      key: 'settings.public_state.connected',
      count: 12,
    });
  });

  it('says why it cannot be reached, in the core’s words', () => {
    const why = 'no public bootstrap node answered (is this device offline?)';
    expect(publicLabel(status([], false, plane({ connected: 3, problem: why })))).toMatchObject({
      state: 'problem',
      problem: why,
    });
  });

  it('counts the strangers’ relays that hold a place for this device', () => {
    const relays = [
      relay(A, { public: true, connected: true, reserved: true }),
      relay(B, { public: true, connected: true }),
      relay('/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWFamily', { connected: true, reserved: true }),
    ];
    expect(publicLabel(status(relays, false, plane({ connected: 4 })))?.relays).toBe(1);
  });

  it('has distinct words for every state', () => {
    expect(new Set(PUBLIC_STATES.map(publicStateKey)).size).toBe(PUBLIC_STATES.length);
  });
});
