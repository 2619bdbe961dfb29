// Hearth keeps working with its window closed: closing the window hides it behind the tray
// icon, a message from family still arrives and shows a desktop notification, the tray's
// "Open Hearth" brings the window back, and so does launching Hearth again (the second launch
// only hands over and ends: one Hearth per data directory); the tray's "Quit" stops the node
// cleanly. It starts at login from its first run (an XDG autostart entry that starts it
// hidden, in the tray), until switched off in Settings, which also shows the public network's
// state and why a relay cannot be reached. And the family board and the chat list say in plain
// words how each contact is reached.
//
// The desktop around the app is real protocol, on a private session bus: a notification
// service (lib/notifications.mjs) and a system tray (lib/tray.mjs).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launchApp, runNode, runRelay, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';
import { notificationService } from '../lib/notifications.mjs';
import { trayService } from '../lib/tray.mjs';

let app;
/** A second app, started the way the login entry starts it. */
let login;
let grandma;
let notifications;
let tray;
const grandmaDir = tmp('grandma-bg');
/** The words for a contact on the same network, in either language. */
const SAME_WIFI = /^(On the same Wi-Fi|같은 와이파이로 연결)$/;
/** The tray's menu, in the UI's language. */
const MENUS = [
  ['Open Hearth', 'Quit'],
  ['Hearth 열기', '끝내기'],
];
let menu;

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  notifications = await notificationService();
  tray = await trayService(notifications.address);
  app = await launchApp('background', { env: { DBUS_SESSION_BUS_ADDRESS: notifications.address } });
});

afterEach(async (t) => {
  await app?.onFailure(t);
  await login?.onFailure(t);
});

after(async () => {
  await app?.quit();
  await login?.quit();
  await grandma?.stop();
  tray?.stop();
  notifications?.stop();
  await stopAll();
});

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('Hearth starts at login from its first run, until that is switched off in Settings', async () => {
  await app.type('name-input', 'Minji');
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed());
  const entry = join(app.configHome, 'autostart', 'Hearth.desktop');
  await until('the autostart entry', () => existsSync(entry));
  assert.match(readFileSync(entry, 'utf8'), /^Exec=\S*\/hearth-app --hidden\s*$/m,
    'it starts this program, hidden in the tray');

  await app.click('nav-settings');
  const toggle = await app.$('autostart-toggle');
  await until('the switch to show it on', async () => (await toggle.isEnabled()) && (await toggle.isSelected()));
  // The public network switch is there (on by default), and says this run keeps off it.
  assert.equal(await (await app.$('public-network-toggle')).isSelected(), true);
  const pub = await app.$('public-status');
  await until('the public network status', async () => (await pub.getAttribute('data-state')) === 'off');
  await app.screenshot('settings');
  await toggle.scrollIntoView({ block: 'center' });
  await app.screenshot('settings-autostart-on');

  await app.click('autostart-toggle');
  await until('the autostart entry to go', () => !existsSync(entry));
  await until('the switch to show it off', async () => !(await toggle.isSelected()));
  await app.screenshot('settings-autostart-off');
});

test('Settings says why a relay cannot be reached', async () => {
  // A relay that has gone away: its address is right, nothing answers there any more.
  const relay = await runRelay(tmp('gone-relay'));
  await relay.stop();
  await app.type('relays-input', relay.addr);
  await app.click('relays-save');
  const why = await app.$('relay-error');
  await until('the reason', async () => (await why.isExisting()) && (await why.getText()).trim() !== '');
  assert.match((await why.getText()).trim(), /^(Why|이유): \S/);
  await (await app.$('relay-status')).scrollIntoView({ block: 'center' });
  await app.screenshot('relay-error');
  await app.type('relays-input', ' ');
  await app.click('relays-save');
  await until('no relay rows', async () => (await app.$$('relay-row')).length === 0);
});

test('the board and the chat list say how family is reached, in plain words', async () => {
  await app.click('nav-add-contact');
  await app.type('paste-code-input', hearth(grandmaDir, 'invite').trim());
  await app.click('accept-code');
  await until('Grandma to see Minji connected', () =>
    hearthJson(grandmaDir, 'contacts').some((c) => c.state === 'connected'));

  await app.click('nav-board');
  const entry = await app.$('board-entry');
  await until('Grandma on the same network', async () =>
    (await entry.isExisting()) && (await entry.getAttribute('data-path')) === 'lan');
  assert.equal(await entry.getAttribute('data-public-relay'), 'false');
  const how = await (await entry.$('[data-testid="board-how"]')).getText();
  assert.match(how.replace(/^(How|연결 방법): /, ''), SAME_WIFI);
  await app.screenshot('board');

  await app.click('nav-chats');
  const words = await app.$('chat-reach-words');
  await until('the chat list to say it', async () => SAME_WIFI.test((await words.getText()).trim()));
  await app.screenshot('chat-list');
});

test('with the window closed, a message still arrives and notifies; the tray opens it again', async () => {
  const korean = (await app.text('nav-chats')) === '대화';
  menu = MENUS[korean ? 1 : 0];
  await until('the tray menu in the UI’s language', async () =>
    JSON.stringify(await tray.labels()) === JSON.stringify(menu));
  assert.equal(app.windowShown(), true);
  const pid = app.closeWindow();
  await until('the window to hide', () => !app.windowShown());
  assert.ok(alive(pid), 'Hearth keeps running with its window closed');

  hearth(grandmaDir, 'send', '--chat', 'Minji', '창을 닫아도 받았니?');
  const n = await until('a notification', () => notifications.shown.find((s) => s.summary === 'Grandma'));
  assert.equal(n.body, '창을 닫아도 받았니?');
  assert.ok(alive(pid));

  await tray.click(menu[0]);
  await until('the window to show again', () => app.windowShown());
  await until('the chat list to show the message', async () =>
    app.browser.execute(() =>
      document.querySelector('[data-testid="chat-item"]')?.textContent.includes('창을 닫아도 받았니?')));
  await app.screenshot('reopened');
});

test('launching Hearth again while it runs shows its window; the second launch only ends', async () => {
  const pid = app.closeWindow();
  await until('the window to hide', () => !app.windowShown());

  const again = await app.launchAgain();
  assert.equal(again.code, 0, `the second launch exits with status 0; it printed:\n${again.output}`);
  assert.doesNotMatch(again.output, /in use|node stopped/i, 'no second node, no "data in use"');
  await until('the window to show again', () => app.windowShown());
  assert.equal(app.pid(), pid, 'the same Hearth, still running');
  assert.equal(app.processes(), 1, 'one Hearth on this data');
  await until('the window to show the conversation still', async () =>
    app.browser.execute(() =>
      document.querySelector('[data-testid="chat-item"]')?.textContent.includes('창을 닫아도 받았니?')));
  await app.screenshot('launched-again');
});

test('Quit in the tray stops the node cleanly', async () => {
  const wal = join(app.dataDir, 'hearth.db-wal');
  assert.ok(statSync(wal).size > 0, 'the running node writes ahead in its log');
  const pid = app.pid();
  await tray.click(menu[1]);
  await until('Hearth to exit', () => !alive(pid));
  // Only Node::shutdown() folds the write-ahead log into the database and empties it.
  assert.equal(existsSync(wal) ? statSync(wal).size : 0, 0, 'the node stopped cleanly');
  assert.ok(hearthJson(app.dataDir, 'messages', '--chat', 'Grandma').some((m) => m.body === '창을 닫아도 받았니?'));
  assert.match(hearth(app.dataDir, 'check'), /problems: 0/);
});

test('started at login, Hearth waits in the tray without a window until opened', async () => {
  const icons = tray.items.length;
  login = await launchApp('login', {
    args: ['--hidden'],
    env: { DBUS_SESSION_BUS_ADDRESS: notifications.address },
  });
  await until('its tray icon', () => tray.items.length > icons);
  // The UI loads all the same, ready for when it is opened.
  await login.$('first-run').then((e) => e.waitForExist({ timeout: 30_000 }));
  assert.equal(login.windowShown(), false, 'no window at login');

  const labels = await until('the tray menu', async () => {
    const l = await tray.labels();
    return MENUS.some((m) => JSON.stringify(m) === JSON.stringify(l)) && l;
  });
  await tray.click(labels[0]);
  await until('the window to show', () => login.windowShown());
  await login.$('first-run').then((e) => e.waitForDisplayed());
  await login.screenshot('opened-from-tray');
});
