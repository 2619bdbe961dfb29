// Photos and voice messages in the real app, with Grandma on a real `hearth` node: a big photo
// Minji picks reaches Grandma downscaled to a 2048 px JPEG; Grandma's photo shows in the app as
// a preview, then full size, and "Save to Downloads" writes exactly the bytes Grandma sent;
// Minji records a voice message (from WebKit's mock microphone, as the machine running the
// tests has no sound card), it reaches Grandma with its length and waveform, and plays in the
// app, where the seek bar moves it, from the first time it is shown; and where the webview
// cannot record (its GStreamer lacks the recorder), the app says so in words. Screenshots of
// each, in English and Korean.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchApp, runNode, hearth, hearthJson, tmp, until, stopAll } from '../lib/harness.mjs';
import { landscapePng, isJpeg, jpegSize } from '../lib/pictures.mjs';
import {
  attachmentSelector, connectTo, decoded, language, nodeBlob, openChat, photoShownFull,
  saveToDownloads, screenshots, writePicture,
} from '../lib/conversation.mjs';

let app;
let grandma;
const grandmaDir = tmp('grandma-photos');
/** The pictures the test makes, and what `hearth blob get` writes. */
const files = tmp('attachment-files');
/** Where the app's "Save to Downloads" writes (HEARTH_DOWNLOAD_DIR). */
const downloads = tmp('downloads');
/** The app records from WebKit's mock microphone: the machine has no sound card. */
const appEnv = { HEARTH_MOCK_MICROPHONE: '1', HEARTH_DOWNLOAD_DIR: downloads };

before(async () => {
  hearth(grandmaDir, 'init', '--name', 'Grandma');
  grandma = await runNode(grandmaDir);
  app = await launchApp('attachments', { env: appEnv });
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

/** The last attachment of that kind shown, once there is one. */
async function lastAttachment(what, which) {
  return until(what, async () => {
    const all = await app.browser.$$(attachmentSelector(which));
    return all.length > 0 && all[all.length - 1];
  });
}

/** An attachment Grandma's node has (fetching it first if need be), as `name` in `files`. */
const grandmaBlob = (blob, name) => nodeBlob(grandmaDir, blob, join(files, name));

test('Minji and Grandma are connected', async () => {
  await connectTo(app, { me: 'Minji', them: 'Grandma', themDir: grandmaDir });
});

test('a big photo from the app reaches Grandma as a 2048 px JPEG', async () => {
  const picked = join(files, 'garden.png');
  writePicture(picked, 2600, 1300);

  // What the file picker would hand the page: the hidden input of the paper clip.
  const input = await app.$('attach-input');
  await input.addValue(picked);

  // Mine, in the conversation: the preview at once, then the photo itself.
  const mine = { mine: true, kind: 'photo' };
  const photo = await lastAttachment('my photo in the conversation', mine);
  const shown = await photoShownFull(app, photo, 'my photo');
  assert.deepEqual({ width: shown.width, height: shown.height }, { width: 2048, height: 1024 },
    'the app shows the photo as sent: downscaled');
  assert.equal(await app.$$('attach-error').then((e) => e.length), 0, 'no sending error');
  const blob = await photo.getAttribute('data-blob');
  assert.match(blob, /^[0-9a-f]{16,}$/);

  // Grandma's node: the message arrives with its blob, which downloads by itself (the LAN).
  const got = await grandma.waitFor('Grandma to receive the photo', (e) => e.event === 'message_received' && e.blob);
  assert.equal(got.blob, blob, 'the blob the app shows');
  const m = await until('the photo complete on Grandma\'s node', () =>
    grandmaMessages().find((x) => x.attachment?.blob === blob && x.attachment.state.state === 'complete'));
  assert.equal(m.attachment.kind, 'photo');
  assert.equal(m.attachment.mime, 'image/jpeg');
  assert.deepEqual([m.attachment.width, m.attachment.height], [2048, 1024]);
  assert.match(m.attachment.preview ?? '', /^data:image\/jpeg;base64,/);

  const jpeg = grandmaBlob(blob, 'garden-from-minji.jpg');
  assert.ok(isJpeg(jpeg), `a JPEG (starts ${jpeg.subarray(0, 4).toString('hex')})`);
  assert.deepEqual(jpegSize(jpeg), { width: 2048, height: 1024 });
  assert.equal(jpeg.length, m.attachment.size, 'the size the message says');

  await until('my photo to show delivered', async () =>
    (await find(`[data-testid="message"][data-mine="true"][data-status="delivered"] [data-blob="${blob}"]`)).isExisting());
  await screenshots(app, 'photo-sent', () => find(`[data-testid="attachment"][data-blob="${blob}"]`));
});

test('Grandma\'s photo shows as a preview, then full size, and saves as she sent it', async () => {
  const path = join(files, 'flowers.png');
  writeFileSync(path, landscapePng(1200, 900, { sky: [200, 100, 150], sun: [255, 240, 200] }));
  const [sent] = hearthJson(grandmaDir, 'send', '--to', 'Minji', '--file', path);
  assert.ok(sent.blob, 'hearth send --file says which blob');
  const sel = `[data-testid="message"][data-mine="false"] [data-testid="attachment"][data-blob="${sent.blob}"]`;

  // The preview, at once.
  const photo = await until('Grandma\'s photo in the conversation', async () => {
    const el = await find(sel);
    return (await el.isExisting()) && el;
  });
  const thumbImg = await photo.$('[data-testid="photo-thumbnail"] img');
  await until('its preview (or the photo) to show', async () => (await decoded(app, thumbImg)).width > 0);
  // Then the photo itself, downloaded over the LAN by itself.
  const box = await photo.$('[data-testid="photo"]');
  await until('the full photo', async () =>
    (await box.getAttribute('data-state')) === 'complete' && (await box.getAttribute('data-full')) === 'true');
  const ownJpeg = grandmaBlob(sent.blob, 'flowers-as-sent.jpg');
  assert.ok(isJpeg(ownJpeg), 'Grandma\'s node sent a JPEG');
  const size = jpegSize(ownJpeg);
  assert.deepEqual(size, { width: 1200, height: 900 }, 'not downscaled: it is small enough');
  const thumb = await until('the thumbnail decoded at full size', async () => {
    const d = await decoded(app, thumbImg);
    return d.complete && d.width === size.width && d;
  });
  assert.equal(thumb.height, size.height);

  // Full size, over the conversation.
  await (await photo.$('[data-testid="photo-thumbnail"]')).click();
  const viewer = await app.$('photo-viewer');
  await viewer.waitForDisplayed({ timeout: 30_000 });
  const full = await app.$('photo-full');
  await full.waitForDisplayed({ timeout: 30_000 });
  const big = await until('the full photo decoded', async () => {
    const d = await decoded(app, full);
    return d.complete && d.width > 0 && d;
  });
  assert.deepEqual({ width: big.width, height: big.height }, size);
  await app.screenshot('photo-viewer');

  // Save to Downloads: the file is what Grandma sent, byte for byte.
  const { saved, savedPath } = await saveToDownloads(app, downloads);
  assert.ok(readFileSync(savedPath).equals(ownJpeg), 'the saved file is the photo Grandma sent');
  assert.match(await saved.getText(), new RegExp(savedPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await (await app.$('save-error')).isExisting(), false);
  await app.screenshot('photo-saved');
  await app.click('dialog-close');
  await viewer.waitForDisplayed({ reverse: true });

  await screenshots(app, 'photo-received', () => find(sel));
});

/** The voice player's position text: "0:01 / 0:03" while playing, the length when not. */
const timeOf = async (player) => (await (await player.$('[data-testid="voice-time"]')).getText()).trim();
const seconds = (t) => t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
/** A length as the player shows it ("0:04"). */
const formatted = (ms) => `${Math.floor(ms / 60_000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

test('a voice message recorded in the app reaches Grandma, and plays', async () => {
  await app.click('voice-record');
  // Recording: the clock runs (a second shown means it has been going for one).
  const recording = await app.$('voice-recording');
  await until('recording to start (or say why not)', async () => {
    const problem = await app.$('voice-error');
    if (await problem.isExisting()) {
      throw new Error(`recording failed: ${await problem.getAttribute('data-reason')}: ${await problem.getText()}`);
    }
    return recording.isDisplayed();
  });
  await until('the clock to run past 0:01', async () => seconds(await app.text('voice-elapsed')) >= 1);
  await app.screenshot('voice-recording');
  await until('the clock to run past 0:04', async () => seconds(await app.text('voice-elapsed')) >= 4);
  await app.click('voice-stop-send');
  await recording.waitForExist({ reverse: true, timeout: 30_000 });
  assert.equal(await (await app.$('voice-error')).isExisting(), false, 'no recording error');

  // My voice message in the conversation.
  const mine = await lastAttachment('my voice message', { mine: true, kind: 'voice' });
  const blob = await mine.getAttribute('data-blob');
  const player = await mine.$('[data-testid="voice-player"]');
  await until('it to be playable here', async () => (await player.getAttribute('data-state')) === 'complete');
  assert.ok(seconds(await timeOf(player)) >= 4, `its length is shown (${await timeOf(player)})`);

  // Grandma's node gets it, with what a player needs.
  const got = await grandma.waitFor('Grandma to receive the voice message',
    (e) => e.event === 'message_received' && e.blob === blob);
  assert.ok(got);
  const m = await until('the voice message complete on Grandma\'s node', () =>
    grandmaMessages().find((x) => x.attachment?.blob === blob && x.attachment.state.state === 'complete'));
  assert.equal(m.attachment.kind, 'voice');
  assert.match(m.attachment.mime, /^audio\//);
  assert.ok(m.attachment.duration_ms >= 4000, `duration ${m.attachment.duration_ms} ms`);
  assert.ok(m.attachment.waveform.length > 0, 'a waveform');
  assert.ok(m.attachment.size > 0);
  assert.equal(grandmaBlob(blob, 'voice').length, m.attachment.size, 'all of it, as the message says');

  const play = await player.$('[data-testid="voice-play"]');
  const playing = async () => (await player.getAttribute('data-playing')) === 'true';
  const position = async () => {
    const t = await timeOf(player);
    return t.includes('/') ? seconds(t.split('/')[0].trim()) : 0;
  };
  const length = formatted(m.attachment.duration_ms);

  // The seek bar, on a fresh player: nothing played yet. WebKitGTK records fragmented MP4 with
  // no length in its header, and its player takes such a recording to be as long as its first
  // fragment (about a second) until it has played it through once, cutting any seek short
  // there and ending, back at 0:00 (the player now gives it the length: ui/src/lib/mp4.ts).
  // A click on the bar moves the sound to where it was clicked (its middle, seconds in), and
  // it stays there; then by keyboard, as a person can: Home to the start, and two seconds on
  // in steps of a tenth (one key press at a time). Playing goes on from there, to the end.
  const seek = await player.$('[data-testid="voice-seek"]');
  const max = Number(await seek.getAttribute('max'));
  assert.equal(max, m.attachment.duration_ms, 'the seek bar is as long as the message says');
  const sound = () => app.browser.execute((el) => el.querySelector('audio')?.currentTime ?? -1, player);
  assert.equal(await sound(), -1, 'a fresh player: its sound is not even read yet');
  await seek.click();
  const clicked = await until('the seek bar near its middle', async () => {
    const v = Number(await seek.getValue());
    return Math.abs(v - max / 2) <= max / 5 && v;
  });
  await until('the sound where the seek bar is, past the first second', async () => {
    const at = await sound();
    return at > 1.2 && Math.abs(at - clicked / 1000) < 0.25;
  });
  assert.equal(Number(await seek.getValue()), clicked, 'the seek bar stays where it was clicked');
  assert.equal(await timeOf(player), `${formatted(clicked)} / ${length}`);
  assert.equal(await playing(), false, 'seeking does not start it');
  await app.browser.keys('Home');
  await until('the seek bar at the start', async () => Number(await seek.getValue()) === 0);
  await until('the sound at the start', async () => (await sound()) < 0.25);
  for (let i = 0; i < 20; i++) await app.browser.keys('ArrowRight');
  await until('the seek bar two seconds in', async () => Number(await seek.getValue()) === 2000);
  await until('the sound two seconds in', async () => Math.abs((await sound()) - 2) < 0.25);
  assert.equal(await timeOf(player), `0:02 / ${length}`);
  await play.click();
  const from = await until('it to play from there', async () => (await playing()) && { at: await position() });
  assert.equal(from.at, 2, 'it plays on from where the seek bar put it, not from the start');
  await app.screenshot('voice-playing');
  await until('it to play to the end', async () => !(await playing()) && (await timeOf(player)) === length);

  // Played again: it says it plays, and the position moves on until it is paused; then on,
  // to the end, where it stops by itself, back at the start.
  await play.click();
  await until('it to play', playing);
  await until('the position to move on', async () => (await position()) >= 1);
  await play.click();
  await until('it to pause', async () => !(await playing()));
  await app.screenshot('voice-paused');
  await play.click();
  await until('it to play again', playing);
  await until('it to play to the end again', async () => !(await playing()) && (await timeOf(player)) === length);
  assert.equal(await (await player.$('[data-testid="voice-play-error"]')).isExisting(), false);

  await screenshots(app, 'voice-sent', () => find(`[data-testid="attachment"][data-blob="${blob}"]`));
});

/**
 * GStreamer's plugins on this machine less `transcodebin` (libgsttranscode, from
 * gstreamer1.0-plugins-bad), which WebKitGTK's MediaRecorder is built on: a machine without
 * the recorder, as one is where only WebKitGTK's own dependencies were installed.
 */
function pluginsWithoutRecorder() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch] ?? process.arch;
  const system = [`/usr/lib/${arch}-linux-gnu/gstreamer-1.0`, '/usr/lib64/gstreamer-1.0', '/usr/lib/gstreamer-1.0']
    .find((d) => existsSync(join(d, 'libgstcoreelements.so')));
  assert.ok(system, 'GStreamer\'s plugins are installed');
  assert.ok(existsSync(join(system, 'libgsttranscode.so')), 'with the recorder, to take away');
  const dir = tmp('gst-plugins');
  for (const f of readdirSync(system)) {
    if (f.endsWith('.so') && f !== 'libgsttranscode.so') symlinkSync(join(system, f), join(dir, f));
  }
  return dir;
}

test('where the webview cannot record, the app says so in words, each time', async () => {
  const plugins = pluginsWithoutRecorder();
  const { dataDir } = app;
  await app.quit();
  await until('the app to stop', () => app.processes() === 0);
  app = await launchApp('attachments-no-recorder', {
    dataDir,
    env: { ...appEnv, GST_PLUGIN_SYSTEM_PATH_1_0: plugins, GST_REGISTRY_1_0: join(tmp('gst-registry'), 'registry.bin') },
  });
  await app.$('nav-chats').then((e) => e.waitForDisplayed({ timeout: 30_000 }));
  for (const [lang, words] of [['en', /cannot be recorded on this computer/], ['ko', /음성 메시지를 녹음할 수 없어요/]]) {
    await language(app, lang);
    await openChat(app);
    await app.click('voice-record');
    const problem = await app.$('voice-error');
    await problem.waitForDisplayed({ timeout: 30_000 });
    assert.equal(await problem.getAttribute('data-reason'), 'unsupported');
    assert.match(await problem.getText(), words);
    assert.equal(await (await app.$('voice-recording')).isExisting(), false, 'not recording');
    await until('the microphone button usable again', async () => (await app.$('voice-record')).isClickable());
    await app.screenshot(lang === 'en' ? 'voice-error' : 'voice-error-ko');
  }
});
