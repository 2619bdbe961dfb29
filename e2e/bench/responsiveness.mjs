// Responsiveness of the real app with 100k messages in one chat (a benchmark, not a test):
// the time from clicking the chat to its latest message on screen, and from pressing send to
// the new bubble on screen. Both are measured inside the page (performance.now around a
// MutationObserver), so WebDriver round trips are not counted. Prints medians and spreads.
//
//   node e2e/bench/responsiveness.mjs [messages=100000] [runs=9]

import { spawnSync } from 'node:child_process';
import { launchApp, hearth, tmp, until, HEARTH, artifact } from '../lib/harness.mjs';

const N = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 9);

const appDir = tmp('bench-app');
const sonDir = tmp('bench-son');
hearth(appDir, 'init', '--name', 'Mom');
hearth(sonDir, 'init', '--name', 'Son');
// Contacts through files, as in the walkthrough: no network needed to fill the store.
const carry = (from, to) => {
  const state = `${tmp('state')}/state.json`;
  const bundle = `${tmp('bundle')}/b.bundle`;
  hearth(to, 'bundle', 'state', '--out', state);
  hearth(from, 'bundle', 'export', '--since', state, '--out', bundle);
  hearth(to, 'bundle', 'import', bundle);
};
const daughterDir = tmp('bench-daughter');
hearth(daughterDir, 'init', '--name', 'Daughter');
for (const other of [sonDir, daughterDir]) {
  hearth(other, 'accept', hearth(appDir, 'invite').trim());
  carry(other, appDir);
  carry(appDir, other);
}
const lines = Array.from({ length: N }, (_, i) => `메시지 ${i} — a line of family chat, about a hundred characters long, 안녕하세요`).join('\n');
const t0 = performance.now();
const r = spawnSync(HEARTH, ['--data-dir', appDir, 'send', '--to', 'Son', '--stdin'], {
  input: lines, stdio: ['pipe', 'ignore', 'inherit'], maxBuffer: 1 << 30,
});
if (r.status !== 0) throw new Error('filling the store failed');
// A small second chat: each run switches from it to the big one, as a family member would.
hearth(appDir, 'send', '--to', 'Daughter', '오늘 몇 시에 와?');
console.error(`stored ${N} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const app = await launchApp('bench', { dataDir: appDir });
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { runs: s.length, median_ms: +q(0.5).toFixed(1), min_ms: +s[0].toFixed(1), max_ms: +s[s.length - 1].toFixed(1) };
};
async function chatItem(title) {
  return until(`the chat with ${title}`, async () => {
    for (const e of await app.$$('chat-item')) {
      if ((await (await e.$('[data-testid="chat-title"]')).getText()).trim() === title) return e;
    }
    return undefined;
  });
}
try {
  await (await app.$('nav-chats')).waitForDisplayed({ timeout: 60_000 });
  const open = [];
  for (let i = 0; i < RUNS; i++) {
    await chatItem('Daughter').then((e) => e.click());
    await until('the small chat to be open', async () =>
      app.browser.execute(() => !document.querySelector('[data-testid="message-body"]')?.textContent.includes('메시지')
        && !!document.querySelector('[data-testid="message-body"]')));
    const ms = await app.browser.executeAsync((last, done) => {
      const t = performance.now();
      const shown = () => [...document.querySelectorAll('[data-testid="message-body"]')]
        .some((e) => e.textContent.includes(last));
      const obs = new MutationObserver(() => {
        if (shown()) { obs.disconnect(); done(performance.now() - t); }
      });
      obs.observe(document.body, { childList: true, subtree: true, characterData: true });
      [...document.querySelectorAll('[data-testid="chat-item"]')]
        .find((e) => e.querySelector('[data-testid="chat-title"]').textContent.trim() === 'Son')
        .click();
    }, `메시지 ${N - 1} `);
    open.push(ms);
  }
  const send = [];
  for (let i = 0; i < RUNS; i++) {
    const text = `bench send ${i} ${Date.now()}`;
    await app.type('composer-input', text);
    const ms = await app.browser.executeAsync((text, done) => {
      const t = performance.now();
      const shown = () => [...document.querySelectorAll('[data-testid="message-body"]')]
        .some((e) => e.textContent.includes(text));
      const obs = new MutationObserver(() => {
        if (shown()) { obs.disconnect(); done(performance.now() - t); }
      });
      obs.observe(document.body, { childList: true, subtree: true, characterData: true });
      document.querySelector('[data-testid="composer-send"]').click();
    }, text);
    send.push(ms);
  }
  const rows = await app.browser.execute(() => document.querySelectorAll('[data-testid="message"]').length);
  await app.screenshot('100k-chat');
  const result = { messages: N, open_chat: stats(open), send_to_shown: stats(send), dom_message_rows: rows };
  artifact('responsiveness.json', result);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await app.quit();
}
