// Media for the fake shell (mock-backend.ts): sample photos drawn on a canvas, a voice message
// as a WAV tone, and what the core does to a photo it is given (downscale to 2048 px,
// re-encode as JPEG, make a small preview). Browser only; not part of the app build.

/** Longest side of a sent photo, and of its preview (as the core makes them). */
const PHOTO_MAX = 2048;
const PREVIEW_MAX = 320;

export type Photo = { bytes: Uint8Array; preview: string; width: number; height: number };

function canvas(w: number, h: number): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return [c, c.getContext('2d')!];
}

function dataUrlBytes(url: string): Uint8Array {
  const bin = atob(url.slice(url.indexOf(',') + 1));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function fit(w: number, h: number, max: number): [number, number] {
  const s = Math.min(1, max / Math.max(w, h));
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
}

function previewOf(source: CanvasImageSource, w: number, h: number): string {
  const [pw, ph] = fit(w, h, PREVIEW_MAX);
  const [c, g] = canvas(pw, ph);
  g.drawImage(source, 0, 0, pw, ph);
  return c.toDataURL('image/jpeg', 0.6);
}

/** A made-up photo: a sky, a sun and hills, in the given colours (synchronous, for seeding). */
export function samplePhoto(w: number, h: number, sky: string, hill: string): Photo {
  const [c, g] = canvas(w, h);
  const grad = g.createLinearGradient(0, 0, 0, h);
  grad.addColorStop(0, sky);
  grad.addColorStop(1, '#fff4e0');
  g.fillStyle = grad;
  g.fillRect(0, 0, w, h);
  g.fillStyle = '#ffd166';
  g.beginPath();
  g.arc(w * 0.72, h * 0.3, Math.min(w, h) * 0.12, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = hill;
  g.beginPath();
  g.moveTo(0, h);
  g.bezierCurveTo(w * 0.3, h * 0.45, w * 0.6, h * 0.95, w, h * 0.55);
  g.lineTo(w, h);
  g.fill();
  return { bytes: dataUrlBytes(c.toDataURL('image/jpeg', 0.85)), preview: previewOf(c, w, h), width: w, height: h };
}

/** What the core does with a photo it is sent; rejects if it is not a picture. */
export async function processPhoto(bytes: Uint8Array, mime: string): Promise<Photo> {
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: mime }));
  const [w, h] = fit(bitmap.width, bitmap.height, PHOTO_MAX);
  const [c, g] = canvas(w, h);
  g.drawImage(bitmap, 0, 0, w, h);
  const preview = previewOf(c, w, h);
  bitmap.close();
  return { bytes: dataUrlBytes(c.toDataURL('image/jpeg', 0.85)), preview, width: w, height: h };
}

/** A voice message stand-in: a wavering tone as 16-bit mono WAV, and its waveform. */
export function sampleVoice(seconds: number): { bytes: Uint8Array; waveform: number[] } {
  const rate = 8000;
  const n = Math.floor(rate * seconds);
  const buf = new DataView(new ArrayBuffer(44 + n * 2));
  const text = (at: number, s: string) => [...s].forEach((ch, i) => buf.setUint8(at + i, ch.charCodeAt(0)));
  text(0, 'RIFF');
  buf.setUint32(4, 36 + n * 2, true);
  text(8, 'WAVEfmt ');
  buf.setUint32(16, 16, true);
  buf.setUint16(20, 1, true);
  buf.setUint16(22, 1, true);
  buf.setUint32(24, rate, true);
  buf.setUint32(28, rate * 2, true);
  buf.setUint16(32, 2, true);
  buf.setUint16(34, 16, true);
  text(36, 'data');
  buf.setUint32(40, n * 2, true);
  const loudness = (t: number) => 0.15 + 0.85 * Math.abs(Math.sin(t * 2.1) * Math.sin(t * 0.7 + 1));
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const v = Math.sin(2 * Math.PI * (220 + 40 * Math.sin(t * 3)) * t) * loudness(t) * 0.4;
    buf.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  const waveform = Array.from({ length: 64 }, (_, b) => Math.round(loudness(((b + 0.5) / 64) * seconds) * 255));
  return { bytes: new Uint8Array(buf.buffer), waveform };
}

/** Bytes standing in for a document of `size` bytes. */
export function sampleFile(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const head = '%PDF-1.4\n% Hearth mock file\n';
  for (let i = 0; i < size; i++) out[i] = i < head.length ? head.charCodeAt(i) : 32 + (i % 90);
  return out;
}
