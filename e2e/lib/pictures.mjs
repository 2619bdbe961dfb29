// Pictures for the attachment tests, made here rather than shipped: a PNG of any size drawn
// in a few lines (Node's zlib does the compression, so no image library is needed), and
// reading the size of a JPEG from its frame header, to see what the core's downscaling made.

import { deflateSync } from 'node:zlib';

/** CRC-32 (IEEE), as PNG chunks carry it. */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * A landscape as an RGB PNG, `width` × `height`: a sky fading from `sky` towards the
 * horizon, a sun, and hills. Something a person would recognise in a screenshot, and not
 * one flat colour, so a JPEG of it is a real picture.
 */
export function landscapePng(width, height, { sky = [70, 130, 200], sun = [255, 200, 80] } = {}) {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  const sunX = width * 0.7;
  const sunY = height * 0.35;
  const sunR = Math.min(width, height) * 0.12;
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    rows[row] = 0; // filter: none
    const t = y / height;
    for (let x = 0; x < width; x++) {
      const hill = height * (0.72 + 0.08 * Math.sin((x / width) * Math.PI * 3));
      let rgb;
      if (y > hill) {
        rgb = [40 + (60 * (y - hill)) / height, 120 - (50 * (y - hill)) / height, 50];
      } else if ((x - sunX) ** 2 + (y - sunY) ** 2 < sunR ** 2) {
        rgb = sun;
      } else {
        rgb = sky.map((c) => c + (255 - c) * t * 0.8);
      }
      const p = row + 1 + x * 3;
      rows[p] = rgb[0];
      rows[p + 1] = rgb[1];
      rows[p + 2] = rgb[2];
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Whether these bytes start as a JPEG does (SOI and a marker: FF D8 FF). */
export const isJpeg = (buf) => buf.length > 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;

/** A JPEG's { width, height }, from its first frame header (SOFn); null if it has none. */
export function jpegSize(buf) {
  if (!isJpeg(buf)) return null;
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    // Fill bytes, and markers without a length (RSTn, TEM).
    if (marker === 0xff) { i += 1; continue; }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { i += 2; continue; }
    const len = buf.readUInt16BE(i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return null;
}

/** A PNG's { width, height }, from its IHDR. */
export function pngSize(buf) {
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}
