// What the tests that talk with a `hearth` node through the app's conversation share: making
// the profile and connecting, switching the language, opening the chat, screenshots in English
// and Korean, and the pictures and attachments sent both ways. Each takes the app (from
// `launchApp`) as it is when called, so a test that launches the app again passes the new one.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hearth, hearthJson, until } from './harness.mjs';
import { landscapePng, pngSize } from './pictures.mjs';

/** Switches the app to `lang` ('en', 'ko') in Settings; resolves once the page is in it. */
export async function language(app, lang) {
  await app.click('nav-settings');
  await (await app.$('language-select')).selectByAttribute('value', lang);
  await until(`lang=${lang}`, async () =>
    (await app.browser.execute(() => document.documentElement.lang)) === lang);
}

/** Opens the (first) chat in the app's list; resolves once its conversation shows. */
export async function openChat(app) {
  await app.click('nav-chats');
  const item = await app.$('chat-item');
  await item.waitForClickable({ timeout: 30_000 });
  await item.click();
  await app.$('conversation').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
}

/**
 * Screenshots of the conversation, scrolled so that the element `el()` finds shows: `label`
 * in English, `label-ko` in Korean. Leaves the app in English, with the conversation open.
 */
export async function screenshots(app, label, el) {
  for (const lang of ['en', 'ko']) {
    await language(app, lang);
    await openChat(app);
    const shown = await el();
    await shown.scrollIntoView({ block: 'center' });
    await app.screenshot(lang === 'en' ? label : `${label}-ko`);
  }
  await language(app, 'en');
  await openChat(app);
}

/**
 * A fresh app's first run as `me`, in English, then the code of the `hearth` node in `themDir`
 * (named `them`) accepted: resolves once that node sees `me` connected and the chat is open.
 */
export async function connectTo(app, { me, them, themDir }) {
  await app.$('first-run').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await app.type('name-input', me);
  await app.click('create-profile');
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  await language(app, 'en');
  await app.click('nav-add-contact');
  await app.type('paste-code-input', hearth(themDir, 'invite').trim());
  await app.click('accept-code');
  await until(`${them} to see ${me} connected`, () =>
    hearthJson(themDir, 'contacts').some((c) => c.name === me && c.state === 'connected'));
  await openChat(app);
}

/** The attachments (photo or voice) of message bubbles: mine or theirs, of this kind. */
export const attachmentSelector = ({ mine, kind }) =>
  `[data-testid="message"][data-mine="${mine}"] [data-testid="attachment"][data-kind="${kind}"]`;

/** An <img>'s picture as the app's webview decoded it ({ complete, width, height }). */
export const decoded = (app, img) =>
  app.browser.execute((el) => ({ complete: el.complete, width: el.naturalWidth, height: el.naturalHeight }), img);

/**
 * Waits until the photo attachment `photo` shows the photo itself, not its preview (`what`
 * shown full), then until its thumbnail <img> is decoded; resolves to that, as `decoded` says.
 */
export async function photoShownFull(app, photo, what) {
  await until(`${what} shown full`, async () =>
    (await (await photo.$('[data-testid="photo"]')).getAttribute('data-full')) === 'true');
  const thumb = await photo.$('[data-testid="photo-thumbnail"] img');
  return until('the thumbnail to be decoded', async () => {
    const d = await decoded(app, thumb);
    return d.complete && d.width > 0 && d;
  });
}

/**
 * "Save to Downloads" in the open photo viewer: once the app says where it saved, checks that
 * the file is in `downloads` (HEARTH_DOWNLOAD_DIR) and exists; resolves to `{ saved, savedPath }`
 * (the element that says it, the path).
 */
export async function saveToDownloads(app, downloads) {
  await app.click('save-blob');
  const saved = await app.$('saved-path');
  await saved.waitForDisplayed({ timeout: 30_000 });
  const savedPath = await saved.getAttribute('data-path');
  assert.equal(dirname(savedPath), downloads, 'saved in the Downloads folder given');
  assert.ok(existsSync(savedPath), `${savedPath} exists`);
  return { saved, savedPath };
}

/**
 * An attachment as the `hearth` node in `dir` has it (fetching it first if need be), written
 * to the file `out`; its bytes.
 */
export function nodeBlob(dir, blob, out) {
  hearth(dir, 'blob', 'get', blob, '--out', out, '--timeout', '60');
  return readFileSync(out);
}

/**
 * A landscape PNG of `width` × `height` (`colours` as `landscapePng` takes them) written to
 * `path`, checked to be that size as read back; its bytes.
 */
export function writePicture(path, width, height, colours) {
  writeFileSync(path, landscapePng(width, height, colours));
  const png = readFileSync(path);
  assert.deepEqual(pngSize(png), { width, height });
  return png;
}
