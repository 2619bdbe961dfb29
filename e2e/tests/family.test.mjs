// A family's first day with Hearth, in the real app: Minji installs it, adds Grandma (a real
// `hearth` node) by her code, they talk both ways and Minji sees her message delivered and
// read, she edits, reacts, replies and deletes, sees what came while she was elsewhere, writes
// while Grandma is offline and sees it delivered when she is back, checks in as safe, makes a
// family group, searches, removes Grandma from the group and adds her back, switches to
// LAN-only (and they still talk), and switches the app to Korean. Screenshots of every step
// are kept in target/e2e-artifacts/, and of any failure as family-FAILED-<test>.png.

import { test, before, after, afterEach } from 'node:test';
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

afterEach(async (t) => {
  await app?.onFailure(t);
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

const bubble = (what, pred, deadlineMs) =>
  until(what, async () => (await bubbles()).find(pred), deadlineMs);

const grandmaMessages = (chat) => hearthJson(grandmaDir, 'messages', '--chat', chat);
const grandmaChat = (title) => hearthJson(grandmaDir, 'chats').find((c) => c.title === title);
const grandmaAccount = () => hearthJson(grandmaDir, 'whoami')[0].account;

/** The element matching a CSS selector (for attribute selectors beyond a test id). */
const find = (selector) => app.browser.$(selector);
const directChat = () => find('[data-testid="chat-item"][data-kind="direct"]');
const groupChat = () => find('[data-testid="chat-item"][data-kind="group"]');
const messageEl = (id) => find(`[data-testid="message"][data-id="${id}"]`);

async function openChat(item) {
  await app.click('nav-chats');
  const chat = await item();
  await chat.waitForClickable({ timeout: 30_000 });
  await chat.click();
  const id = await chat.getAttribute('data-chat');
  await until('the conversation to open', async () =>
    (await (await app.$('conversation')).getAttribute('data-chat')) === id);
  return id;
}

async function send(text) {
  await app.type('composer-input', text);
  await app.click('composer-send');
  return bubble(`my message "${text}"`, (b) => b.mine && b.body === text);
}

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

test('my reply to Grandma reaches her as a reply to her message', async () => {
  const hers = await bubble('her question', (b) => !b.mine && b.body === '그래, 밥은 먹었니?');
  const herId = await hers.el.getAttribute('data-id');
  await openMenu(hers.el, 'action-reply');
  await app.$('replying-to').then((e) => e.waitForDisplayed());
  const mine = await send('네, 먹었어요');
  assert.equal(await mine.el.getAttribute('data-reply-to'), herId, 'my bubble is a reply to hers');
  assert.equal(await (await mine.el.$('[data-testid="message-quote"]')).isExisting(), true);
  await app.screenshot('reply-sent');
  const got = await until('Grandma to get the reply', () =>
    grandmaMessages('Minji').find((m) => m.body === '네, 먹었어요'));
  assert.equal(got.reply_to, herId, 'on her device it replies to her message');
});

test('deleting my message for everyone deletes it on Grandma\'s device too', async () => {
  const oops = await send('잘못 보냈어요');
  const id = await oops.el.getAttribute('data-id');
  await until('Grandma to get it', () => grandmaMessages('Minji').some((m) => m.id === id && !m.deleted));
  await openMenu(oops.el, 'action-delete');
  await until('my bubble to show it deleted', async () =>
    (await (await messageEl(id)).getAttribute('data-deleted')) === 'true');
  await app.screenshot('deleted');
  await until('Grandma to see it deleted', () =>
    grandmaMessages('Minji').some((m) => m.id === id && m.deleted));
});

test('the chat list counts what Grandma sends while I am elsewhere, and opening the chat clears it', async () => {
  // Opening the chat marks everything read; then Minji goes back to the list, and on.
  await app.click('conversation-back');
  await openChat(directChat);
  await app.click('conversation-back');
  await app.$('conversation').then((e) => e.waitForExist({ reverse: true }));
  await until('nothing unread to start with', async () =>
    !(await (await (await directChat()).$('[data-testid="chat-unread"]')).isExisting()));
  await app.click('nav-board');
  await app.$('family-board').then((e) => e.waitForDisplayed());
  hearth(grandmaDir, 'send', '--chat', 'Minji', '민지야 전화 좀 해');
  hearth(grandmaDir, 'send', '--chat', 'Minji', '기다릴게');
  await app.screenshot('elsewhere-while-she-writes');
  await app.click('nav-chats');
  await until('the badge to count her two messages', async () =>
    (await (await (await directChat()).$('[data-testid="chat-unread"]')).getText()).trim() === '2');
  await app.screenshot('unread-badge');
  await openChat(directChat);
  await bubble('her latest message', (b) => !b.mine && b.body === '기다릴게');
  await until('the badge to clear', async () =>
    !(await (await (await directChat()).$('[data-testid="chat-unread"]')).isExisting()));
  await app.screenshot('unread-cleared');
});

test('a message written while Grandma is offline waits, and is delivered when she is back', async () => {
  // Her node stops; she comes back on the same address with the same data directory.
  const addr = grandma.addrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))?.split('/p2p/')[0];
  await grandma.stop();
  await send('할머니 주무세요?');
  await bubble('it to wait (queued)', (b) => b.mine && b.body === '할머니 주무세요?' && b.status === 'queued');
  await app.screenshot('queued-while-offline');
  assert.ok(!grandmaMessages('Minji').some((m) => m.body === '할머니 주무세요?'), 'not on her device yet');
  grandma = await runNode(grandmaDir, addr ? { listen: addr } : {}).catch(() => runNode(grandmaDir));
  await until('Grandma to get it once she is back', () =>
    grandmaMessages('Minji').some((m) => m.body === '할머니 주무세요?'), 60_000);
  await bubble('it to show delivered',
    (b) => b.mine && b.body === '할머니 주무세요?' && b.status === 'delivered', 60_000);
  await app.screenshot('delivered-after-she-is-back');
});

test('"I\'m safe" reaches Grandma and hers shows on my board', async () => {
  await app.click('nav-board');
  await app.$('family-board').then((e) => e.waitForDisplayed());
  await app.click('im-safe');
  await until('Grandma to get the check-in', () =>
    grandmaMessages('Minji').some((m) => m.kind === 'check_in'));
  hearth(grandmaDir, 'checkin');
  const account = grandmaAccount();
  await until('Grandma\'s check-in on my board', async () =>
    (await app.browser.$(`[data-testid="checkin-item"][data-account="${account}"]`)).isExisting());
  const entry = await app.browser.$(`[data-testid="board-entry"][data-account="${account}"]`);
  assert.equal(await entry.getAttribute('data-path'), 'lan', 'Grandma is reached over the LAN');
  await app.screenshot('family-board');
});

test('a family group reaches Grandma', async () => {
  await app.click('nav-new-group');
  await app.type('group-title-input', '우리 가족');
  await (await app.browser.$(`[data-testid="group-member-option"][data-account="${grandmaAccount()}"]`)).click();
  await app.click('create-group');
  await until('Grandma to have the group', () =>
    hearthJson(grandmaDir, 'chats').some((c) => c.title === '우리 가족'));
  await app.$('conversation').then((e) => e.waitForDisplayed());
  await app.type('composer-input', '가족방 만들었어요');
  await app.click('composer-send');
  await until('Grandma to get the group message', () =>
    grandmaMessages('우리 가족').some((m) => m.body === '가족방 만들었어요'));
  await send('다 같이 저녁 밥 먹어요');
  await until('Grandma to get the second one', () =>
    grandmaMessages('우리 가족').some((m) => m.body === '다 같이 저녁 밥 먹어요'));
  await app.screenshot('family-group');
});

test('searching for 밥 finds it in this chat, and in every chat', async () => {
  const direct = await openChat(directChat);
  const group = await (await groupChat()).getAttribute('data-chat');
  // In this chat: only this chat's messages with 밥 (the rice question from Grandma).
  await app.type('chat-search-input', '밥');
  await app.browser.keys('Enter');
  const inChat = await until('results in this chat', async () => {
    const hits = await app.$$('chat-search-result');
    return hits.length > 0 && hits;
  });
  for (const hit of inChat) {
    assert.equal(await hit.getAttribute('data-chat'), direct, 'only this chat');
    assert.match(await hit.getText(), /밥/);
  }
  await app.screenshot('search-in-chat');
  await app.click('chat-search-close');

  // Across chats: Grandma's question here and my dinner call in the family group.
  await app.type('search-input', '밥');
  await app.click('search-run');
  await until('results from both chats', async () => {
    const chats = new Set();
    for (const r of await app.$$('search-result')) chats.add(await r.getAttribute('data-chat'));
    return chats.has(direct) && chats.has(group);
  });
  for (const r of await app.$$('search-result')) {
    assert.match(await (await r.$('[data-testid="search-result-body"]')).getText(), /밥/);
    if ((await r.getAttribute('data-mine')) === 'true') {
      // My own messages are "You" (나), not my name.
      assert.match((await (await r.$('[data-testid="search-result-author"]')).getText()).trim(), /^(You|나)$/);
    }
  }
  await app.screenshot('search-all-chats');
  await app.click('search-clear');
});

test('in the group settings both of us are listed, and Grandma can be removed and added back', async () => {
  const account = grandmaAccount();
  await openChat(groupChat);
  await app.click('group-settings-open');
  await app.$('group-settings').then((e) => e.waitForDisplayed());
  const grandmaRow = () => find(`[data-testid="member-row"][data-account="${account}"]`);
  await until('both members listed', async () =>
    (await app.$$('member-row')).length === 2 && (await grandmaRow()).isExisting());
  await app.screenshot('group-members');

  await (await (await grandmaRow()).$('[data-testid="remove-member"]')).click();
  await until('her row to go', async () => !(await (await grandmaRow()).isExisting()));
  await until('Grandma to see she is no longer in the group', () => grandmaChat('우리 가족')?.active === false);
  await app.screenshot('grandma-removed');

  await (await app.$('add-member-select')).selectByAttribute('value', account);
  await app.click('add-member');
  await until('her row to come back', async () => (await grandmaRow()).isExisting());
  await until('Grandma to be in the group again', () => grandmaChat('우리 가족')?.active === true);
  await app.screenshot('grandma-added-back');
  await app.click('dialog-close');
  await app.$('group-settings').then((e) => e.waitForDisplayed({ reverse: true }));
  await send('다시 오셨네요');
  await until('Grandma to get the group message again', () =>
    grandmaMessages('우리 가족').some((m) => m.body === '다시 오셨네요'));
});

test('LAN-only mode keeps us talking on the local network', async () => {
  await app.click('nav-settings');
  // What the running network reports (network_status), not what the checkbox says.
  const mode = async () => (await app.$('network-mode')).getAttribute('data-mode');
  await until('the network to report the internet in use', async () => (await mode()) === 'internet');
  const toggle = await app.$('lan-only-toggle');
  await toggle.waitForClickable();
  assert.equal(await toggle.isSelected(), false);
  await toggle.click();
  await until('the network to report LAN-only', async () => (await mode()) === 'lan_only');
  assert.equal(await toggle.isSelected(), true);
  await app.screenshot('lan-only');
  // After the network restarts in LAN-only mode, Grandma on the LAN still gets through.
  hearth(grandmaDir, 'send', '--chat', 'Minji', 'LAN에서도 잘 돼?');
  await app.click('nav-chats');
  await openChat(directChat);
  await bubble('the message over the LAN', (b) => !b.mine && b.body === 'LAN에서도 잘 돼?');
  await app.screenshot('lan-only-message');
  // The setting stays when the screen is opened again, and the network still runs under it.
  await app.click('nav-settings');
  await until('LAN-only still on', async () => (await app.$('lan-only-toggle')).isSelected());
  await until('the network still LAN-only', async () => (await mode()) === 'lan_only');
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
