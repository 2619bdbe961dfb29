// A stock Nostr relay on loopback for the tests that look at Hearth's public mailboxes:
// `nostr-rs-relay` (crates.io, not written by this project; scripts/deps.sh installs it), with
// its own SQLite database in a temporary directory. So no test ever leaves messages with a real
// public relay, and what the app does is checked against a relay it was not written alongside.
//
// What the relay was given is read from its database files as they are on disk (the main file
// and the write-ahead log, where the newest writes sit until a checkpoint): what anyone who runs
// a relay could read. core/tests/support/nostr.rs is the same relay for the Rust tests.

import { spawn } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp, track, until, freePort, portOpen } from './harness.mjs';

/** The relay's database file; its write-ahead log and index are this name plus `-wal`, `-shm`. */
const DB_FILE = 'nostr.db';
/** How long the relay may take to create its database and listen. */
const START_MS = 30_000;

/**
 * The head of an event as nostr-rs-relay stores it (serde, fields in declaration order):
 * `{"id":"<hex>","pubkey":"<hex>","created_at":<n>,"kind":<n>,...`.
 */
const EVENT_HEAD = /\{"id":"([0-9a-f]{64})","pubkey":"([0-9a-f]{64})","created_at":(\d+),"kind":(\d+),/g;

/**
 * Starts `nostr-rs-relay` on 127.0.0.1 (a free port) and resolves once it accepts
 * connections. `url` is its address (`ws://127.0.0.1:<port>`), `dir` its data directory (the
 * database, its config and `relay.log`), `stop()` kills it.
 */
export async function nostrRelay() {
  const dir = tmp('nostr-relay');
  const port = await freePort();
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `[info]\nrelay_url = "ws://127.0.0.1:${port}/"\n` +
      `[database]\ndata_directory = "${dir}"\n` +
      `[network]\naddress = "127.0.0.1"\nport = ${port}\n`,
  );
  const log = openSync(join(dir, 'relay.log'), 'a');
  const child = track(spawn('nostr-rs-relay', ['--config', config], {
    cwd: dir,
    stdio: ['ignore', log, log],
    // Its own process group, as everything the harness starts (`stopAll` stops it too).
    detached: true,
  }));
  closeSync(log);
  // Waits for it to listen, or to have stopped (then says why).
  let gone = null;
  child.once('exit', (code, signal) => { gone ??= { code, signal }; });
  child.once('error', (error) => { gone ??= { error }; });
  await until('nostr-rs-relay to listen', async () => gone ?? (await portOpen(port)), START_MS);
  if (gone?.error?.code === 'ENOENT') {
    throw new Error('nostr-rs-relay is not installed (scripts/deps.sh installs it)');
  }
  if (gone) {
    const why = gone.error?.message ?? gone.signal ?? `exit ${gone.code}`;
    throw new Error(`nostr-rs-relay stopped before it listened (${why}); see ${dir}/relay.log`);
  }

  /** Every byte of its database files, as they are now. */
  const stored = () =>
    Buffer.concat(readdirSync(dir)
      .filter((f) => f.startsWith(DB_FILE))
      .map((f) => readFileSync(join(dir, f))));

  return {
    url: `ws://127.0.0.1:${port}`,
    dir,
    /** Whether this text is anywhere in its database files, in any table, index or log. */
    holds: (text) => stored().includes(Buffer.from(text, 'utf8')),
    /**
     * The events of this kind it stored, by id (each once, wherever its row is on disk):
     * `{ id, pubkey, createdAt }`.
     */
    events(kind) {
      const found = new Map();
      for (const [, id, pubkey, createdAt, k] of stored().toString('latin1').matchAll(EVENT_HEAD)) {
        if (Number(k) === kind) found.set(id, { id, pubkey, createdAt: Number(createdAt) });
      }
      return [...found.values()];
    },
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          res(); // already gone
        }
      }),
  };
}
