// Public mailboxes in the real app: Settings lists the mailbox relays and how each is doing; a
// message for Grandma while she is away waits in them, sealed, and its details say where; a
// wrong address is refused with the reason and a good list is saved; a run started without the
// mailboxes says so; and turned off, they stay off. The mailboxes are two stock Nostr relays
// (nostr-rs-relay) on loopback (lib/nostr-relay.mjs): no test leaves anything with a real public
// relay, and what they stored is read from their databases on disk.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { launchApp, runNode, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';
import { nostrRelay } from '../lib/nostr-relay.mjs';
import { language } from '../lib/conversation.mjs';

let app;
let grandma;
let mailA;
let mailB;
const grandmaDir = tmp('grandma-mail');
const BODY = 'Are you asleep, Grandma?';
/** The kind of Hearth's mailbox events (`hearth_core::nostr::KIND`). */
const KIND = 4454;

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  mailA = await nostrRelay();
  mailB = await nostrRelay();
  app = await launchApp('mailboxes', { nostrRelays: [mailA.url, mailB.url] });
});

afterEach(async (t) => {
  await app?.onFailure(t);
});

after(async () => {
  await app?.quit();
  await grandma?.stop();
  await mailA?.stop();
  await mailB?.stop();
  await stopAll();
});

/** A relay URL as typed (the app may show it with a slash at the end). */
const bare = (url) => url.replace(/\/$/, '');
const host = (url) => new URL(url).host;

/** The mailbox rows shown, as { url, state, text }. */
async function rows() {
  const out = [];
  for (const el of await app.$$('mailbox-row')) {
    out.push({
      url: bare(await el.getAttribute('data-url')),
      state: await el.getAttribute('data-state'),
      text: (await el.getText()).trim(),
    });
  }
  return out;
}

const mailboxesState = async () => (await app.$('mailboxes-state')).getAttribute('data-state');

async function openMailboxes() {
  await app.click('nav-settings');
  const section = await app.$('mailboxes');
  await section.waitForDisplayed({ timeout: 30_000 });
  await section.scrollIntoView({ block: 'start' });
}

/** Closes the app and opens it again on the same data, once the first one has stopped. */
async function reopen(name, options = {}) {
  const { dataDir } = app;
  await app.quit();
  await until('the app to stop', () => app.processes() === 0);
  app = await launchApp(name, { dataDir, ...options });
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
}

test('Settings lists the public mailboxes and how each is doing', async () => {
  await app.$('first-run').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.type('name-input', 'Minji');
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await language(app, 'en');

  await openMailboxes();
  assert.equal(await (await app.$('nostr-toggle')).isSelected(), true, 'on unless turned off');
  await until('the mailboxes in use', async () => (await mailboxesState()) === 'in_use');
  await until('both relays listed, connected', async () => {
    const r = await rows();
    return JSON.stringify(r.map((x) => [x.url, x.state])) ===
      JSON.stringify([[mailA.url, 'connected'], [mailB.url, 'connected']]);
  });
  assert.match((await rows())[0].text, /Connected/);
  // This run was given its relays; the saved ones are still the usual public ones.
  assert.equal(await (await app.$('mailboxes-others')).isExisting(), true);
  assert.match(await (await app.$('mailbox-relays-input')).getValue(), /^wss:\/\//);
  await app.screenshot('settings');
  await language(app, 'ko');
  await openMailboxes();
  await until('the rows in Korean', async () => (await rows()).every((r) => r.text.includes('연결됨')));
  await app.screenshot('settings-ko');
  await language(app, 'en');
});

test('a message for Grandma while she is away waits in the public mailboxes, and says where', async () => {
  await app.click('nav-add-contact');
  await app.type('paste-code-input', hearth(grandmaDir, 'invite').trim());
  await app.click('accept-code');
  await until('Grandma to see Minji connected', () =>
    hearthJson(grandmaDir, 'contacts').some((c) => c.name === 'Minji' && c.state === 'connected'));
  await grandma.stop();

  await app.click('nav-chats');
  const item = await app.$('chat-item');
  await item.waitForClickable({ timeout: 30_000 });
  await item.click();
  await app.type('composer-input', BODY);
  await app.click('composer-send');
  const waiting = await until('the message to wait in both mailboxes', async () => {
    for (const el of await app.$$('message')) {
      const body = await el.$('[data-testid="message-body"]');
      if (!(await body.isExisting()) || (await body.getText()).trim() !== BODY) continue;
      const where = await el.$('[data-testid="message-mailboxes"]');
      if ((await el.getAttribute('data-status')) !== 'in_mailbox' || !(await where.isExisting())) return null;
      const text = (await where.getText()).trim();
      return text.includes(host(mailA.url)) && text.includes(host(mailB.url)) && text;
    }
    return null;
  });
  assert.match(waiting, /^Waiting in public mailboxes: /);
  await app.screenshot('message-waiting');
  await language(app, 'ko');
  await app.click('nav-chats');
  await until('the details in Korean', async () =>
    (await app.text('message-mailboxes')).startsWith('공개 우편함에서 기다리는 중'));
  await app.screenshot('message-waiting-ko');
  await language(app, 'en');

  // What the relays stored is sealed: neither the words nor who it is from or for, anywhere in
  // their databases (the events, their tags, the indexes, the write-ahead log).
  for (const relay of [mailA, mailB]) {
    assert.ok(relay.events(KIND).length > 0, `${relay.url} stored Hearth's events`);
    for (const text of [BODY, 'Grandma', 'Minji']) {
      assert.equal(relay.holds(text), false, `${relay.url} stored ${JSON.stringify(text)}`);
    }
  }
  await openMailboxes();
  await until('each relay to say it holds messages for the family', async () =>
    (await app.$$('mailbox-accepted')).length === 2);
  await app.screenshot('settings-holding');
});

test('a wrong mailbox address is refused with the reason; a good list is saved', async () => {
  await openMailboxes();
  await app.type('mailbox-relays-input', 'https://relay.example.org');
  await app.click('mailbox-relays-save');
  const problem = await app.$('mailbox-relays-error');
  await problem.waitForDisplayed({ timeout: 30_000 });
  assert.match(await problem.getText(), /not a Nostr relay address: https:\/\/relay\.example\.org/);
  await problem.scrollIntoView({ block: 'center' });
  await app.screenshot('invalid-address');

  // One per line, as a person types them (Enter: WebDriver's key, not "\n"); the blank line
  // and spaces around are dropped.
  const ENTER = '\uE007';
  await app.type('mailbox-relays-input', `${mailA.url}${ENTER}${ENTER} ${mailB.url} `);
  await app.click('mailbox-relays-save');
  await app.$('mailbox-relays-saved').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  assert.equal(await problem.isExisting(), false);
  // Read again from the node: the list is what was saved, and both are listed in use.
  await app.click('nav-chats');
  await openMailboxes();
  const input = await app.$('mailbox-relays-input');
  await until('the saved list', async () =>
    (await input.getValue()).split('\n').map(bare).join(',') === [mailA.url, mailB.url].join(','));
  await until('both relays listed', async () =>
    (await rows()).map((r) => r.url).join(',') === [mailA.url, mailB.url].join(','));
  assert.equal(await (await app.$('mailboxes-others')).isExisting(), false, 'the saved ones are in use');
  await app.screenshot('saved');
});

test('a run started without public mailboxes says so', async () => {
  // The harness's default: HEARTH_NOSTR=0, as every other test runs.
  await reopen('mailboxes-off-this-run');
  await openMailboxes();
  assert.equal(await (await app.$('nostr-toggle')).isSelected(), true, 'still turned on');
  await until('it to say they are not in use', async () => (await mailboxesState()) === 'not_running');
  assert.equal((await app.$$('mailbox-row')).length, 0);
  assert.match(await app.text('mailboxes-state'), /not in use right now/);
  await app.screenshot('not-this-run');
});

test('turned off, the public mailboxes are not used, and stay off', async () => {
  await openMailboxes();
  await app.click('nostr-toggle');
  await until('the switch off', async () => !(await (await app.$('nostr-toggle')).isSelected()));
  await until('it to say they are off', async () => (await mailboxesState()) === 'off');
  assert.equal(await (await app.$('mailbox-relays-input')).isExisting(), false, 'no list to edit');
  await app.screenshot('off');

  // Opened again with the loopback relays given: off stays off.
  await reopen('mailboxes-turned-off', { nostrRelays: [mailA.url, mailB.url] });
  await openMailboxes();
  await until('the settings read', async () => (await mailboxesState()) !== 'loading');
  assert.equal(await (await app.$('nostr-toggle')).isSelected(), false);
  assert.equal(await mailboxesState(), 'off');
  assert.equal((await app.$$('mailbox-row')).length, 0);
  await app.screenshot('still-off');
});
