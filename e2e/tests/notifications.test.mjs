// A message that arrives while the Hearth window is not focused shows a desktop notification
// (through the freedesktop Notifications service on the session bus) with who wrote and what;
// logging out (SIGTERM) shuts the node down cleanly, so the data directory is free and whole.
// (Closing the window only hides it: background.test.mjs.)

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launchApp, runNode, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';
import { notificationService } from '../lib/notifications.mjs';
import { focusAnotherWindow } from '../lib/focus.mjs';

let app;
let grandma;
let notifications;
const grandmaDir = tmp('grandma-n');

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  notifications = await notificationService();
  app = await launchApp('notify', { env: { DBUS_SESSION_BUS_ADDRESS: notifications.address } });
});

afterEach(async (t) => {
  await app?.onFailure(t);
});

after(async () => {
  await app?.quit();
  await grandma?.stop();
  notifications?.stop();
  await stopAll();
});

test('a message while the window is not focused shows a notification', async () => {
  await app.type('name-input', 'Minji');
  await app.click('create-profile');
  await app.click('nav-add-contact');
  await app.type('paste-code-input', hearth(grandmaDir, 'invite').trim());
  await app.click('accept-code');
  await until('Grandma to see Minji connected', () =>
    hearthJson(grandmaDir, 'contacts').some((c) => c.state === 'connected'));
  // While the window is focused, a new message shows in the app and nowhere else. (The
  // notification is decided before the UI hears of the message, so once the chat list shows
  // it, any notification would already have been sent.)
  await app.click('nav-chats');
  assert.equal(await app.browser.execute(() => document.hasFocus()), true);
  hearth(grandmaDir, 'send', '--chat', 'Minji', '보고 있니?');
  await app.screenshot('focused-before');
  await until('the chat list to show it', async () =>
    app.browser.execute(() =>
      document.querySelector('[data-testid="chat-item"]')?.textContent.includes('보고 있니?')));
  assert.deepEqual(notifications.shown, [], 'no notification while the window is focused');

  // The family member is busy in another window: focus moves to it.
  await focusAnotherWindow();
  await until('the app window to lose focus', async () =>
    !(await app.browser.execute(() => document.hasFocus())));
  hearth(grandmaDir, 'send', '--chat', 'Minji', '저녁 7시에 와');
  const n = await until('a notification', () => notifications.shown.find((s) => s.summary === 'Grandma'));
  assert.equal(n.body, '저녁 7시에 와');
  // The message that came while the window was focused never notified, not even late.
  assert.deepEqual(notifications.shown.map((s) => s.body), ['저녁 7시에 와']);
  await app.screenshot('notified');
});

test('logging out shuts the node down cleanly', async () => {
  await app.screenshot('before-close');
  const wal = join(app.dataDir, 'hearth.db-wal');
  assert.ok(statSync(wal).size > 0, 'the running node writes ahead in its log');
  // A desktop session ending sends SIGTERM to what runs in it.
  const pid = app.pid();
  process.kill(pid, 'SIGTERM');
  await until('the app to exit', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  // Only Node::shutdown() folds the write-ahead log into the database and empties it: a
  // crash, a kill, or a window closed without stopping the node leaves it full.
  assert.equal(existsSync(wal) ? statSync(wal).size : 0, 0, 'the node stopped cleanly');
  // The data directory is free for the CLI, and everything is whole.
  assert.ok(hearthJson(app.dataDir, 'messages', '--chat', 'Grandma').some((m) => m.body === '저녁 7시에 와'));
  assert.match(hearth(app.dataDir, 'check'), /problems: 0/);
});
