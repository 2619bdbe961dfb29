// Photos given to the app the two other ways a person does, with Grandma on a real `hearth`
// node: a photo dragged from the file manager and dropped onto the conversation, and a
// picture pasted into the composer (a screenshot, a picture copied in a browser). Each is
// sent as a photo and reaches Grandma as a JPEG downscaled to 2048 px wide, as a picked one
// does (attachments.test.mjs), byte for byte the photo the app holds. While files are dragged
// over the conversation, it says "Drop here to send"; dropped, or dragged away, it stops
// saying it. Screenshots of each, in English and Korean.
//
// WebDriver cannot drag a file from outside the window nor put one on the clipboard, so the
// events are made in the page, as WebKit would deliver them: a `File` of the test's PNG in a
// `new DataTransfer()`, given as `dataTransfer` to DragEvents (dragenter, dragover, drop) and
// as `clipboardData` to a ClipboardEvent('paste'). This WebKitGTK (2.50) takes both as they
// are: `dt.items.add(file)` makes `types` say "Files", and the handlers see the same object,
// its file readable. (Not a real drag: `dropEffect` stays "none" whatever the page sets, so
// it is not checked.) A real drop reaches the page at all only because the window turns off
// Tauri's own drag-and-drop handler (src-tauri/src/lib.rs, `disable_drag_drop_handler`).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchApp, runNode, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';
import { isJpeg, jpegSize } from '../lib/pictures.mjs';
import {
  attachmentSelector, connectTo, language, nodeBlob, openChat, photoShownFull, saveToDownloads,
  screenshots, writePicture,
} from '../lib/conversation.mjs';

let app;
let grandma;
const grandmaDir = tmp('grandma-drop');
/** The pictures the test makes, and what `hearth blob get` writes. */
const files = tmp('drop-files');
/** Where the app's "Save to Downloads" writes (HEARTH_DOWNLOAD_DIR). */
const downloads = tmp('drop-downloads');

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  app = await launchApp('drop-and-paste', { env: { HEARTH_DOWNLOAD_DIR: downloads } });
});

afterEach(async (t) => {
  await app?.onFailure(t);
});

after(async () => {
  await app?.quit();
  await grandma?.stop();
  await stopAll();
});

const find = (selector) => app.browser.$(selector);
const grandmaMessages = () => hearthJson(grandmaDir, 'messages', '--chat', 'Minji');

/** My photos in the conversation. */
const MY_PHOTOS = attachmentSelector({ mine: true, kind: 'photo' });
/** The blobs of my photos shown now. */
const myPhotoBlobs = () =>
  app.browser.execute((sel) => [...document.querySelectorAll(sel)].map((el) => el.getAttribute('data-blob')), MY_PHOTOS);

/** A PNG of this size, written where the test keeps its files; its bytes. */
const picture = (name, width, height, colours) => writePicture(join(files, name), width, height, colours);

/**
 * In the page: one file dragged in from outside the window, over the middle of the
 * conversation (whatever element is there, as a real drag's events go to it and bubble up to
 * the conversation). Fires dragenter and dragover, and keeps the drag (`window.__e2eDrag`) so
 * `dragOn` can go on with it. Returns the drag's `types` and whether the page took each event
 * (cancelled it: what tells the webview that a drop here is wanted).
 */
async function dragIn(name, png) {
  return app.browser.execute(
    (conv, name, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'image/png' }));
      const box = conv.getBoundingClientRect();
      const x = box.left + box.width / 2;
      const y = box.top + box.height / 2;
      const target = document.elementFromPoint(x, y);
      if (!target || !conv.contains(target)) throw new Error(`the middle of the conversation is ${target?.outerHTML}`);
      const fire = (type) =>
        target.dispatchEvent(new DragEvent(type, {
          bubbles: true,
          cancelable: type !== 'dragleave',
          composed: true,
          clientX: x,
          clientY: y,
          dataTransfer: dt,
        }));
      window.__e2eDrag = fire;
      return { types: [...dt.types], entered: !fire('dragenter'), over: !fire('dragover') };
    },
    await app.$('conversation'),
    name,
    png.toString('base64'),
  );
}

/** In the page: the drag `dragIn` began goes on ("drop", "dragleave"); whether it was taken. */
const dragOn = (type) => app.browser.execute((type) => !window.__e2eDrag(type), type);

/**
 * What a photo given to the app must come to: a new photo of mine in the conversation, shown
 * full, downscaled; on Grandma's node, a complete JPEG photo of `width` × `height` named
 * `name`; "Save to Downloads" in the app writes the very bytes `hearth blob get` writes on
 * Grandma's node; and the app says it was delivered. Returns the blob.
 */
async function sentAsPhoto(what, earlier, { name, width, height }) {
  // Mine, in the conversation: a photo not there before, the preview at once, then the photo.
  const blob = await until(`${what} in the conversation`, async () =>
    (await myPhotoBlobs()).find((b) => b && !earlier.includes(b)));
  assert.match(blob, /^[0-9a-f]{16,}$/);
  const photo = await find(`${MY_PHOTOS}[data-blob="${blob}"]`);
  const shown = await photoShownFull(app, photo, what);
  assert.deepEqual({ width: shown.width, height: shown.height }, { width, height },
    'the app shows the photo as sent: downscaled');
  assert.equal(await app.$$('attach-error').then((e) => e.length), 0, 'no sending error');

  // Grandma's node: the message arrives with its blob, which downloads by itself (the LAN).
  await grandma.waitFor(`Grandma to receive ${what}`, (e) => e.event === 'message_received' && e.blob === blob);
  const m = await until(`${what} complete on Grandma's node`, () =>
    grandmaMessages().find((x) => x.attachment?.blob === blob && x.attachment.state.state === 'complete'));
  assert.equal(m.attachment.kind, 'photo');
  assert.equal(m.attachment.name, name, 'the file\'s name, as a JPEG');
  assert.equal(m.attachment.mime, 'image/jpeg');
  assert.deepEqual([m.attachment.width, m.attachment.height], [width, height]);
  assert.match(m.attachment.preview ?? '', /^data:image\/jpeg;base64,/);

  const jpeg = nodeBlob(grandmaDir, blob, join(files, `grandma-${name}`));
  assert.ok(isJpeg(jpeg), `a JPEG (starts ${jpeg.subarray(0, 4).toString('hex')})`);
  assert.deepEqual(jpegSize(jpeg), { width, height });
  assert.equal(jpeg.length, m.attachment.size, 'the size the message says');

  // The app's side: the photo it holds, saved from its viewer, is what Grandma's node has.
  await (await photo.$('[data-testid="photo-thumbnail"]')).click();
  const viewer = await app.$('photo-viewer');
  await viewer.waitForDisplayed({ timeout: 30_000 });
  const { savedPath } = await saveToDownloads(app, downloads);
  assert.ok(readFileSync(savedPath).equals(jpeg), 'the app holds the very photo Grandma got');
  await app.click('dialog-close');
  await viewer.waitForDisplayed({ reverse: true });

  await until(`${what} to show delivered`, async () =>
    (await find(`[data-testid="message"][data-mine="true"][data-status="delivered"] [data-blob="${blob}"]`)).isExisting());
  return blob;
}

test('Minji and Grandma are connected', async () => {
  await connectTo(app, { me: 'Minji', them: 'Grandma', themDir: grandmaDir });
});

test('a photo dropped onto the conversation reaches Grandma as a 2048 px JPEG', async () => {
  const png = picture('porch.png', 2600, 1300);
  // Looked up each time: each drag shows an overlay of its own.
  const overlay = () => app.$('drop-overlay');
  assert.equal(await overlay().isExisting(), false, 'no drop overlay before a drag');

  // Dragged over the conversation, and away again: it says where to drop, then stops.
  await language(app, 'ko');
  await openChat(app);
  const away = await dragIn('porch.png', png);
  assert.ok(away.types.includes('Files'), `the drag carries files (types: ${away.types})`);
  await overlay().waitForDisplayed({ timeout: 30_000 });
  assert.match(await overlay().getText(), /여기에 놓으면 보내져요/);
  await app.screenshot('drop-overlay-ko');
  await dragOn('dragleave');
  await overlay().waitForExist({ reverse: true, timeout: 30_000 });

  // Dragged over it and dropped there.
  await language(app, 'en');
  await openChat(app);
  const earlier = await myPhotoBlobs();
  const drag = await dragIn('porch.png', png);
  assert.deepEqual({ entered: drag.entered, over: drag.over }, { entered: true, over: true },
    'the conversation takes the drag (or the webview would not let the file be dropped)');
  await overlay().waitForDisplayed({ timeout: 30_000 });
  assert.match(await overlay().getText(), /Drop here to send/);
  await app.screenshot('drop-overlay');
  assert.equal(await dragOn('drop'), true, 'the conversation takes the drop (else the webview would open the file)');
  await overlay().waitForExist({ reverse: true, timeout: 30_000 });

  const blob = await sentAsPhoto('my dropped photo', earlier, { name: 'porch.jpg', width: 2048, height: 1024 });
  assert.equal(await overlay().isExisting(), false, 'the overlay stays gone');
  await screenshots(app, 'photo-dropped', () => find(`[data-testid="attachment"][data-blob="${blob}"]`));
});

test('a picture pasted into the composer reaches Grandma as a 2048 px JPEG', async () => {
  // As a copied picture comes: a PNG named "image.png", with no text beside it.
  const png = picture('image.png', 2560, 1920, { sky: [230, 140, 90], sun: [255, 250, 220] });
  const earlier = await myPhotoBlobs();
  await app.click('composer-input');
  const box = await app.$('composer-input');
  const pasted = await app.browser.execute(
    (box, name, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'image/png' }));
      const paste = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true, composed: true });
      return { focused: document.activeElement === box, types: [...dt.types], taken: !box.dispatchEvent(paste) };
    },
    box,
    'image.png',
    png.toString('base64'),
  );
  assert.ok(pasted.focused, 'pasted where the person writes');
  assert.ok(pasted.types.includes('Files'), `the clipboard holds a file (types: ${pasted.types})`);
  assert.equal(pasted.taken, true, 'the composer takes the paste as a photo (not as text)');
  assert.equal(await box.getValue(), '', 'nothing pasted into the text');

  const blob = await sentAsPhoto('my pasted photo', earlier, { name: 'image.jpg', width: 2048, height: 1536 });
  await screenshots(app, 'photo-pasted', () => find(`[data-testid="attachment"][data-blob="${blob}"]`));
});
