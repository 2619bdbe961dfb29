// Two family members on one computer: two instances of the real app, each with its own data
// directory (HEARTH_DATA_DIR, as `HEARTH_DATA_DIR=/tmp/grandma ./scripts/app.sh` gives), add
// each other by code and talk both ways. Both are on one session bus, as on one desktop, where
// each holds the single-instance guard of its own data (and not one guard for the app, which
// would let only one of them run). Screenshots in target/e2e-artifacts/.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import dbus from 'dbus-next';
import { launchApp, sessionBus, until, stopAll } from '../lib/harness.mjs';

let bus;
let mom;
let son;

before(async () => {
  bus = await sessionBus();
  const env = { DBUS_SESSION_BUS_ADDRESS: bus.address };
  mom = await launchApp('two-mom', { env });
  son = await launchApp('two-son', { env });
});

afterEach(async (t) => {
  await mom?.onFailure(t);
  await son?.onFailure(t);
});

after(async () => {
  await mom?.quit();
  await son?.quit();
  bus?.stop();
  await stopAll();
});

async function firstRun(app, name) {
  await app.$('first-run').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.type('name-input', name);
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
}

/** The bodies of the message bubbles `app` shows, with whose they are. */
async function shown(app) {
  const out = [];
  for (const el of await app.$$('message')) {
    const body = await el.$('[data-testid="message-body"]');
    if (!(await body.isExisting())) continue;
    out.push({ mine: (await el.getAttribute('data-mine')) === 'true', body: (await body.getText()).trim() });
  }
  return out;
}

async function openOnlyChat(app) {
  await app.click('nav-chats');
  const item = await app.$('chat-item');
  await item.waitForClickable({ timeout: 30_000 });
  await item.click();
  await app.$('conversation').then((e) => e.waitForDisplayed());
}

async function send(app, text) {
  await app.type('composer-input', text);
  await app.click('composer-send');
}

/** The single-instance guards held on the session bus: one D-Bus name per data directory. */
async function guards() {
  const client = dbus.sessionBus({ busAddress: bus.address });
  try {
    const reply = await client.call(new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'ListNames',
    }));
    return reply.body[0].filter((n) => /^org\.hearth\.desktop\.data_[0-9a-f]{16}\.SingleInstance$/.test(n));
  } finally {
    client.disconnect();
  }
}

test('two instances on one machine add each other by code and talk both ways', async () => {
  await firstRun(mom, '엄마');
  await firstRun(son, '민준');
  assert.notEqual(mom.dataDir, son.dataDir, 'each instance keeps its own data');
  assert.equal((await guards()).length, 2, 'each instance is the one Hearth for its own data');

  await mom.click('nav-add-contact');
  await mom.$('my-code').then((e) => e.waitForDisplayed());
  const code = await mom.text('my-code');
  assert.match(code, /^HEARTH1-/);
  await son.click('nav-add-contact');
  await son.type('paste-code-input', code);
  await son.click('accept-code');
  for (const app of [son, mom]) {
    await until('the contact to show connected', async () => {
      const row = await app.$('contact-row');
      return (await row.isExisting()) && (await row.getAttribute('data-state')) === 'connected';
    });
  }
  await mom.screenshot('connected');
  await son.screenshot('connected');

  await openOnlyChat(son);
  await send(son, '엄마, 저 민준이에요');
  await openOnlyChat(mom);
  await until('Mom to see her son\'s message', async () =>
    (await shown(mom)).some((m) => !m.mine && m.body === '엄마, 저 민준이에요'));
  await send(mom, '그래, 밥은 먹었니?');
  await until('the son to see Mom\'s answer', async () =>
    (await shown(son)).some((m) => !m.mine && m.body === '그래, 밥은 먹었니?'));
  await mom.screenshot('talking');
  await son.screenshot('talking');
});
