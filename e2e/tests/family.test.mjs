// A family's first day with Hearth, in the real app: Minji installs it, adds Grandma (a real
// `hearth` node) by her code, they talk both ways and Minji sees her message delivered and
// read, she edits and reacts, checks in as safe, makes a family group, switches to LAN-only
// (and they still talk), and switches the app to Korean. Screenshots of every step are kept in
// target/e2e-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchApp, runNode, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';

let app;
let grandma;
const grandmaDir = tmp('grandma');

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  app = await launchApp('family');
});

after(async () => {
  await app?.quit();
  await grandma?.stop();
  await stopAll();
});

/** The message bubbles currently shown, as { mine, status, kind, body, el }. */
async function bubbles() {
  const out = [];
  for (const el of await app.$$('message')) {
    const body = await el.$('[data-testid="message-body"]');
    out.push({
      el,
      mine: (await el.getAttribute('data-mine')) === 'true',
      status: await el.getAttribute('data-status'),
      kind: await el.getAttribute('data-kind'),
      body: (await body.isExisting()) ? (await body.getText()).trim() : '',
    });
  }
  return out;
}

const bubble = (what, pred) => until(what, async () => (await bubbles()).find(pred));

const grandmaMessages = (chat) => hearthJson(grandmaDir, 'messages', '--chat', chat);

async function openMenu(el, action) {
  const menu = await el.$('[data-testid="message-menu"]');
  await menu.click();
  await app.click(action);
}

test('first run creates my identity', async () => {
  await app.$('first-run').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.screenshot('first-run');
  await app.type('name-input', 'Minji');
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.screenshot('empty-chat-list');
});

test('adding Grandma by her code connects us', async () => {
  const code = hearth(grandmaDir, 'invite').trim();
  assert.match(code, /^HEARTH1-/);
  await app.click('nav-add-contact');
  await app.$('my-code').then((e) => e.waitForDisplayed());
  assert.match(await app.text('my-code'), /^HEARTH1-/, 'my own code is shown');
  // A mangled code is refused with a clear message, and nothing is added.
  await app.type('paste-code-input', 'HEARTH1-THISISNOTAREALCODE');
  await app.click('accept-code');
  const banner = await app.$('error-banner');
  await banner.waitForDisplayed({ timeout: 30_000 });
  assert.equal(await banner.getAttribute('data-kind'), 'invite');
  await app.screenshot('bad-code');
  await app.click('error-dismiss');
  await banner.waitForDisplayed({ reverse: true });
  assert.equal((await app.$$('contact-row')).length, 0);
  await app.type('paste-code-input', `  ${code}\n`);
  await app.click('accept-code');
  await app.$('accept-result').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.screenshot('contact-added');
  // The safety number Minji sees is the one Grandma's device computes.
  const minji = await until('Grandma to see Minji connected', () =>
    hearthJson(grandmaDir, 'contacts').find((c) => c.name === 'Minji' && c.state === 'connected'));
  assert.equal(await app.text('safety-number'), minji.safety_number);
  await until('the contact to show connected', async () => {
    const row = await app.$('contact-row');
    return (await row.getAttribute('data-state')) === 'connected';
  });
  await app.screenshot('contact-connected');
});

test('we talk both ways and delivery then read shows', async () => {
  await app.click('nav-chats');
  const item = await app.$('chat-item');
  await item.waitForClickable({ timeout: 30_000 });
  await item.click();
  await app.$('conversation').then((e) => e.waitForDisplayed());
  await app.type('composer-input', '할머니, 저 민지예요');
  await app.click('composer-send');
  await bubble('my message to show', (b) => b.mine && b.body === '할머니, 저 민지예요');
  await until('Grandma to receive it', () =>
    grandmaMessages('Minji').some((m) => m.body === '할머니, 저 민지예요'));
  await bubble('delivered', (b) => b.mine && b.status === 'delivered');
  await app.screenshot('delivered');
  hearth(grandmaDir, 'read', '--chat', 'Minji');
  await bubble('read', (b) => b.mine && b.status === 'read');
  await app.screenshot('read');

  hearth(grandmaDir, 'send', '--chat', 'Minji', '그래, 밥은 먹었니?');
  await bubble('Grandma\'s reply', (b) => !b.mine && b.body === '그래, 밥은 먹었니?');
  await app.screenshot('reply-received');
});

test('editing my message and reacting to hers reach Grandma', async () => {
  const mine = await bubble('my message', (b) => b.mine && b.kind === 'text');
  await openMenu(mine.el, 'action-edit');
  await app.type('edit-input', '할머니, 저 민지예요!');
  await app.click('edit-save');
  await bubble('edited text', (b) => b.mine && b.body === '할머니, 저 민지예요!');
  await until('Grandma to see the edit', () =>
    grandmaMessages('Minji').some((m) => m.body === '할머니, 저 민지예요!' && m.edited_at));

  const hers = await bubble('her message', (b) => !b.mine);
  await openMenu(hers.el, 'action-react');
  await (await app.browser.$('[data-testid="react-option"][data-emoji="👍"]')).click();
  await until('the reaction chip', async () =>
    (await hers.el.$('[data-testid="reaction"][data-emoji="👍"]')).isExisting());
  await until('Grandma to see the reaction', () =>
    grandmaMessages('Minji').some((m) => m.reactions.some(([, e]) => e === '👍')));
  await app.screenshot('edited-and-reacted');
});

test('"I\'m safe" reaches Grandma and hers shows on my board', async () => {
  await app.click('nav-board');
  await app.$('family-board').then((e) => e.waitForDisplayed());
  await app.click('im-safe');
  await until('Grandma to get the check-in', () =>
    grandmaMessages('Minji').some((m) => m.kind === 'check_in'));
  hearth(grandmaDir, 'checkin');
  const grandmaAccount = hearthJson(grandmaDir, 'whoami')[0].account;
  await until('Grandma\'s check-in on my board', async () =>
    (await app.browser.$(`[data-testid="checkin-item"][data-account="${grandmaAccount}"]`)).isExisting());
  const entry = await app.browser.$(`[data-testid="board-entry"][data-account="${grandmaAccount}"]`);
  assert.equal(await entry.getAttribute('data-path'), 'lan', 'Grandma is reached over the LAN');
  await app.screenshot('family-board');
});

test('a family group reaches Grandma', async () => {
  const grandmaAccount = hearthJson(grandmaDir, 'whoami')[0].account;
  await app.click('nav-new-group');
  await app.type('group-title-input', '우리 가족');
  await (await app.browser.$(`[data-testid="group-member-option"][data-account="${grandmaAccount}"]`)).click();
  await app.click('create-group');
  await until('Grandma to have the group', () =>
    hearthJson(grandmaDir, 'chats').some((c) => c.title === '우리 가족'));
  await app.$('conversation').then((e) => e.waitForDisplayed());
  await app.type('composer-input', '가족방 만들었어요');
  await app.click('composer-send');
  await until('Grandma to get the group message', () =>
    grandmaMessages('우리 가족').some((m) => m.body === '가족방 만들었어요'));
  await app.screenshot('family-group');
});

test('LAN-only mode keeps us talking on the local network', async () => {
  await app.click('nav-settings');
  const toggle = await app.$('lan-only-toggle');
  await toggle.waitForExist();
  assert.equal(await toggle.isSelected(), false);
  await toggle.click();
  await until('LAN-only on', () => toggle.isSelected());
  await app.screenshot('lan-only');
  // After the network restarts in LAN-only mode, Grandma on the LAN still gets through.
  hearth(grandmaDir, 'send', '--chat', 'Minji', 'LAN에서도 잘 돼?');
  await app.click('nav-chats');
  const direct = await app.browser.$('[data-testid="chat-item"][data-kind="direct"]');
  await direct.click();
  await bubble('the message over the LAN', (b) => !b.mine && b.body === 'LAN에서도 잘 돼?');
  // The setting stays when the screen is opened again.
  await app.click('nav-settings');
  await until('LAN-only still on', async () => (await app.$('lan-only-toggle')).isSelected());
});

test('switching to Korean translates the app', async () => {
  const english = await app.text('nav-chats');
  await (await app.$('language-select')).selectByAttribute('value', 'ko');
  await until('lang=ko', async () =>
    (await app.browser.execute(() => document.documentElement.lang)) === 'ko');
  const korean = await app.text('nav-chats');
  assert.notEqual(korean, english);
  assert.match(korean, /[\uAC00-\uD7A3]/, 'the navigation is in Hangul');
  await app.screenshot('korean');
  await app.click('nav-board');
  await app.screenshot('korean-board');
});
