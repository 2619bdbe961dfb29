// A code that offers a relay: the app asks before using it (a relay sees when a device
// connects), and uses it only if the person says yes. Grandma and Grandpa are real `hearth`
// nodes that use a real `hearth relay` on loopback, so their codes carry a relayed address.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { launchApp, runNode, runRelay, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';

let app;
let relay;
const nodes = [];

before(async () => {
  relay = await runRelay(tmp('relay'));
  app = await launchApp('relay-question');
});

afterEach(async (t) => {
  await app?.onFailure(t);
});

after(async () => {
  await app?.quit();
  for (const n of nodes) await n.stop();
  await relay?.stop();
  await stopAll();
});

/** A person running `hearth` with the relay; resolves to a code that names the relay. */
async function personWithRelay(name) {
  const dir = tmp(name.toLowerCase());
  hearth(dir, 'init', '--name', name);
  nodes.push(await runNode(dir, { args: ['--relay', relay.addr] }));
  // Once it holds a reservation, its codes carry its address through the relay.
  await until(`${name} to hold a reservation on the relay`, () =>
    hearthJson(dir, 'status')[0]?.network?.relays?.some((r) => r.reserved));
  return hearth(dir, 'invite').trim();
}

async function relaysSaved() {
  await app.click('nav-settings');
  const input = await app.$('relays-input');
  await input.waitForDisplayed();
  return (await input.getValue()).trim();
}

test('a relay from a code is used only when I agree', async () => {
  await app.$('first-run').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.type('name-input', 'Minji');
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));

  // Grandma's code: Minji says "not now"; Grandma is added, no relay is used.
  const grandma = await personWithRelay('Grandma');
  await app.click('nav-add-contact');
  await app.type('paste-code-input', grandma);
  await app.click('accept-code');
  const question = await app.$('relay-question');
  await question.waitForDisplayed({ timeout: 30_000 });
  assert.match(await question.getText(), new RegExp(relay.addr.split('/p2p/')[1]));
  await app.screenshot('relay-question');
  await app.click('relay-skip');
  await app.$('accept-result').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  assert.equal(await relaysSaved(), '');

  // Grandpa's code: Minji agrees; the relay is in her settings.
  const grandpa = await personWithRelay('Grandpa');
  await app.click('nav-add-contact');
  await app.type('paste-code-input', grandpa);
  await app.click('accept-code');
  await app.$('relay-question').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.click('relay-use');
  await app.$('accept-result').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  assert.equal(await relaysSaved(), relay.addr);
  await app.screenshot('relay-used');
});
