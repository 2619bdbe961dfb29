// The end-to-end harness: the real app binary in WebKitWebDriver (through tauri-driver) under
// Xvfb, and real `hearth` CLI nodes as the family on the other side. Everything listens on
// loopback only, LAN discovery (mDNS multicast), the public network and the public mailboxes
// (Nostr relays) are off, so nothing leaves this machine. A test that looks at the mailboxes
// gives the app its own relays on loopback (lib/nostr-relay.mjs, `launchApp`'s `nostrRelays`).
//
// Waiting is always for a condition (with a deadline), never a fixed sleep.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import readline from 'node:readline';
import { remote } from 'webdriverio';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
export const APP = process.env.HEARTH_APP ?? join(TARGET, 'debug', 'hearth-app');
export const HEARTH = process.env.HEARTH_CLI ?? join(TARGET, 'debug', 'hearth');
export const ARTIFACTS = join(TARGET, 'e2e-artifacts');

/** How long any one condition may take before the test fails. */
export const DEADLINE_MS = 30_000;
/** How often a condition is re-checked. */
const POLL_MS = 100;

export const tmp = (name) => mkdtempSync(join(tmpdir(), `hearth-e2e-${name}-`));

/** Waits until `check()` returns a truthy value (returned), or fails with `what`. */
export async function until(what, check, deadlineMs = DEADLINE_MS) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A TCP port on loopback that nothing listens on just now. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** Whether something accepts TCP connections on this loopback port. */
export function portOpen(port) {
  return new Promise((res) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); res(true); });
    c.on('error', () => res(false));
  });
}

// Every process the harness starts leads its own process group, so stopping it also stops
// what it started (tauri-driver → WebKitWebDriver → the app) and nothing outlives the run.
const children = new Set();
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
const group = { detached: true };
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
/** Stops every process the harness started (Xvfb, drivers, nodes, helpers). */
export async function stopAll() {
  const all = [...children];
  for (const c of all) killGroup(c, 'SIGTERM');
  const gone = (c) => c.exitCode !== null || c.signalCode !== null;
  await until('processes to stop', () => all.every(gone), 5_000).catch(() => {});
  for (const c of all) killGroup(c, 'SIGKILL');
}
process.on('exit', () => {
  for (const c of children) killGroup(c, 'SIGKILL');
});

/** An X display: the one we are given, or our own Xvfb. */
export async function display() {
  if (process.env.DISPLAY) return process.env.DISPLAY;
  // Xvfb picks a free display number itself and writes it to the given descriptor.
  const x = track(spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    ...group,
  }));
  let n = '';
  x.stdio[3].on('data', (d) => { n += d; });
  await until('Xvfb to start', () => n.includes('\n'), 10_000);
  process.env.DISPLAY = `:${n.trim()}`;
  return process.env.DISPLAY;
}

/** Runs a `hearth` CLI command on a data directory; returns stdout. */
export function hearth(dir, ...args) {
  return execFileSync(HEARTH, ['--data-dir', dir, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export const hearthJson = (dir, ...args) =>
  hearth(dir, '--json', ...args)
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

/**
 * `hearth run` on loopback, without mDNS; its JSON event lines are collected. `listen` picks
 * the address (a node started again on its old address is found where the family remembers
 * it); by default any free port. `addrs` are the addresses it listens on.
 */
export async function runNode(dir, { listen = '/ip4/127.0.0.1/tcp/0', args = [] } = {}) {
  // Public mailboxes only on relays the test gives (`--nostr-relay`, on loopback).
  const nostr = args.includes('--nostr-relay') ? [] : ['--no-nostr'];
  const child = track(spawn(HEARTH, ['--data-dir', dir, '--json', 'run', '--no-mdns', '--no-public-network',
    ...nostr, '--listen', listen, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...group }));
  const events = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    try { events.push(JSON.parse(l)); } catch { /* not an event line */ }
  });
  const listening = await until('hearth run to listen', () => events.find((e) => e.event === 'listening'));
  return {
    events,
    addrs: listening.addrs ?? [],
    waitFor: (what, pred) => until(what, () => events.find(pred)),
    stop: () => new Promise((res) => {
      if (child.exitCode !== null) return res();
      child.on('exit', res);
      killGroup(child, 'SIGTERM');
    }),
  };
}

/** `hearth relay` on loopback; resolves to its address once it listens. */
export async function runRelay(dir) {
  const child = track(spawn(HEARTH, ['--data-dir', dir, '--json', 'relay', '--listen',
    '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'], ...group }));
  const events = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    try { events.push(JSON.parse(l)); } catch { /* not an event line */ }
  });
  const listening = await until('the relay to listen', () =>
    events.find((e) => e.event === 'listening' && e.addr?.startsWith('/ip4/127.0.0.1/')));
  return {
    addr: listening.addr,
    stop: () => new Promise((res) => {
      if (child.exitCode !== null) return res();
      child.on('exit', res);
      killGroup(child, 'SIGTERM');
    }),
  };
}

/**
 * A private D-Bus session bus (dbus-daemon); resolves to its address. What the app does on
 * the session bus (notifications, the tray, its single-instance guard) stays on it.
 */
export async function sessionBus() {
  const daemon = track(spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...group,
  }));
  let address;
  readline.createInterface({ input: daemon.stdout }).on('line', (l) => { address ??= l.trim(); });
  await until('the session bus', () => address, 10_000);
  return { address, stop: () => killGroup(daemon, 'SIGKILL') };
}

/** Whether a mailbox relay's URL is on this machine (`ws://127.0.0.1:<port>`). */
const onLoopback = (url) => /^ws:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\/?$/.test(url);

/**
 * The real app in its own data directory, driven through tauri-driver (which starts
 * WebKitWebDriver and the app). `args` are the app's command-line arguments. Returns the
 * WebdriverIO browser plus helpers.
 *
 * The public mailboxes are off for the run (`HEARTH_NOSTR=0`), unless the test gives
 * `nostrRelays`: loopback relays (lib/nostr-relay.mjs) the app then uses in place of the saved
 * ones while "leave messages in public mailboxes" is on (`HEARTH_NOSTR_RELAYS`). Turned off
 * and on again in that run, the app uses the saved list: save loopback relays first.
 */
export async function launchApp(name, { dataDir = tmp(name), env = {}, args = [], nostrRelays = null } = {}) {
  if (nostrRelays && (nostrRelays.length === 0 || !nostrRelays.every(onLoopback))) {
    throw new Error(`a test's mailbox relays must be on loopback (ws://127.0.0.1:<port>): [${nostrRelays}]`);
  }
  await display();
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  const nativePort = await freePort();
  // A home of its own: what the app writes there (the start-at-login entry, which
  // tauri-plugin-autostart puts under $HOME/.config/autostart whatever XDG_CONFIG_HOME says)
  // stays in the test's directory, never in the real home of whoever runs the tests.
  const home = join(dataDir, 'home');
  const configHome = join(home, '.config');
  const appEnv = {
    ...process.env,
    HEARTH_DATA_DIR: dataDir,
    // The webview's own storage (language, theme) belongs to this instance alone.
    HOME: home,
    XDG_DATA_HOME: join(dataDir, 'xdg-data'),
    XDG_CONFIG_HOME: configHome,
    XDG_CACHE_HOME: join(dataDir, 'xdg-cache'),
    HEARTH_LISTEN: '/ip4/127.0.0.1/tcp/0',
    HEARTH_MDNS: '0',
    HEARTH_PUBLIC_NETWORK: '0',
    ...(nostrRelays ? { HEARTH_NOSTR_RELAYS: nostrRelays.join(',') } : { HEARTH_NOSTR: '0' }),
    ...env,
  };
  if (nostrRelays) delete appEnv.HEARTH_NOSTR;
  const driver = track(spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...group,
    env: appEnv,
  }));
  // What the driver, WebKitWebDriver and the app print: kept for assertions, and echoed.
  let output = '';
  for (const stream of [driver.stdout, driver.stderr]) {
    stream.on('data', (d) => {
      output += d;
      process.stderr.write(d);
    });
  }
  await until('tauri-driver to listen', () => portOpen(port), 15_000);
  await until('WebKitWebDriver to listen', () => portOpen(nativePort), 15_000);
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'error',
    connectionRetryCount: 0,
    capabilities: {
      // WebKitWebDriver speaks classic WebDriver only (no BiDi session).
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application: APP, args },
    },
  });
  let shot = 0;
  const app = {
    browser,
    dataDir,
    /** The app's XDG_CONFIG_HOME (also `$HOME/.config`). */
    configHome,
    output: () => output,
    /** The element with this data-testid (optionally inside a CSS scope). */
    $: (id, scope = '') => browser.$(`${scope} [data-testid="${id}"]`.trim()),
    $$: (id, scope = '') => browser.$$(`${scope} [data-testid="${id}"]`.trim()),
    async click(id) {
      const el = await app.$(id);
      await el.waitForClickable({ timeout: DEADLINE_MS });
      await el.click();
    },
    async type(id, text) {
      const el = await app.$(id);
      await el.waitForDisplayed({ timeout: DEADLINE_MS });
      await el.clearValue();
      await el.setValue(text);
    },
    async text(id) {
      const el = await app.$(id);
      await el.waitForDisplayed({ timeout: DEADLINE_MS });
      return (await el.getText()).trim();
    },
    async screenshot(label) {
      shot += 1;
      const file = join(ARTIFACTS, `${name}-${String(shot).padStart(2, '0')}-${label}.png`);
      // What the DOM says is painted two frames later: the picture shows what was checked.
      await browser
        .executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())))
        .catch(() => {});
      await browser.saveScreenshot(file);
      return file;
    },
    /**
     * For node:test's `afterEach`: when the test just run failed, a screenshot named after
     * it (`<app>-FAILED-<test name>.png`) and the page's text beside it. Never throws: the
     * window may already be gone.
     */
    async onFailure(t) {
      if (t.passed !== false) return null;
      const slug = String(t.name)
        .toLowerCase()
        .replace(/[^\p{L}\p{N}]+/gu, '-')
        .replace(/^-|-$/g, '')
        .slice(0, 80);
      const file = join(ARTIFACTS, `${name}-FAILED-${slug}.png`);
      try {
        await browser.saveScreenshot(file);
        const text = await browser.execute(() => document.body?.innerText ?? '');
        writeFileSync(file.replace(/\.png$/, '.txt'), `${t.name}\n${t.error?.stack ?? t.error ?? ''}\n\n${text}`);
        process.stderr.write(`e2e: the failure's screenshot is ${file}\n`);
        return file;
      } catch (e) {
        process.stderr.write(`e2e: no screenshot of the failure (${e.message})\n`);
        return null;
      }
    },
    /** The app's process id: the hearth-app whose HEARTH_DATA_DIR is this instance's. */
    pid() {
      const pids = execFileSync('pgrep', ['-x', 'hearth-app'], { encoding: 'utf8' }).trim().split('\n');
      return Number(pids.find((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`HEARTH_DATA_DIR=${dataDir}`);
        } catch {
          return false;
        }
      }));
    },
    /**
     * Closes the window the way a person does: its close button, which the window manager
     * turns into WM_DELETE_WINDOW (sent by lib/wm-close.py, as Xvfb has no window manager).
     * Returns the app's pid. (WebDriver's own "close window" ends the session, and with it
     * the app, at once: it tests nothing about how the app closes.)
     */
    closeWindow() {
      const pid = app.pid();
      const windows = execFileSync('xdotool', ['search', '--pid', String(pid), '--name', '^Hearth$'], { encoding: 'utf8' })
        .trim()
        .split('\n');
      for (const w of windows) execFileSync('python3', [join(here, 'wm-close.py'), w]);
      return pid;
    },
    /** Whether the app's window is shown (mapped) on the display. */
    windowShown() {
      try {
        execFileSync('xdotool', ['search', '--onlyvisible', '--pid', String(app.pid()), '--name', '^Hearth$'], {
          stdio: 'ignore',
        });
        return true;
      } catch {
        return false;
      }
    },
    /**
     * Launches the app binary once more, as a person does from the desktop's menu: same data
     * directory, same desktop (display, session bus), not under WebDriver. Resolves when that
     * process exits, to its exit code (null if killed), signal and what it printed.
     */
    launchAgain(args = []) {
      const again = track(spawn(APP, args, { stdio: ['ignore', 'pipe', 'pipe'], ...group, env: appEnv }));
      let printed = '';
      for (const stream of [again.stdout, again.stderr]) stream.on('data', (d) => { printed += d; });
      let done = null;
      // `close`: it has exited and everything it printed is read.
      again.on('close', (code, signal) => { done = { code, signal, output: printed }; });
      return until('the second launch to exit', () => done).finally(() => killGroup(again, 'SIGKILL'));
    },
    /** How many hearth-app processes run on this instance's data directory. */
    processes() {
      let pids = [];
      try {
        pids = execFileSync('pgrep', ['-x', 'hearth-app'], { encoding: 'utf8' }).trim().split('\n');
      } catch {
        return 0;
      }
      return pids.filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`HEARTH_DATA_DIR=${dataDir}`);
        } catch {
          return false;
        }
      }).length;
    },
    async quit() {
      try { await browser.deleteSession(); } catch { /* the app may already be gone */ }
      await new Promise((res) => {
        if (driver.exitCode !== null) return res();
        driver.on('exit', res);
        killGroup(driver, 'SIGTERM');
      });
    },
  };
  return app;
}

/** Writes a small JSON file next to the screenshots (figures from a run). */
export function artifact(name, value) {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, name), JSON.stringify(value, null, 2));
}
