// What the UI decides about attachments without the DOM: how a chosen file is sent (photo or
// file), how big it is in words, how far its download is, and how large its thumbnail is.
//
// A blob's state comes from two places: the message (`Attachment.state`, re-read on
// `messages_changed`) and the live `blob_progress` events in between. The further of the two
// wins, so the bar never jumps back when a re-read message lags behind the events.

import type { Attachment, AttachmentKind, BlobState } from '../api';

/**
 * Largest file the core takes (CONTRACT: `too_large` over 100 MB). Checked here too, so a
 * huge file is refused before it is read into memory and pushed through the IPC.
 */
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;

/**
 * Pictures the core can read, downscale and re-encode (JPEG and PNG: core/src/blob/photo.rs).
 * Other images (GIF, WebP, HEIC, SVG…) would be refused as photos, so they travel as files,
 * whole, and whoever gets them can save and open them.
 */
const PHOTO_MIMES = ['image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'image/x-png'];

export function kindForMime(mime: string): AttachmentKind {
  return PHOTO_MIMES.includes(mime.toLowerCase().split(';')[0].trim()) ? 'photo' : 'file';
}

const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;

/** "340 KB", "1.2 MB": binary steps, one decimal from MB up, in the locale's words. */
export function formatSize(bytes: number, locale: string): string {
  let v = Math.max(0, bytes);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return new Intl.NumberFormat(locale, {
    style: 'unit',
    unit: UNITS[u],
    unitDisplay: u === 0 ? 'long' : 'short',
    maximumFractionDigits: u >= 2 ? 1 : 0,
  }).format(v);
}

/** Live progress from `blob_progress` events: `have` of `of` chunks (of 256 KiB). */
export type Progress = { have: number; of: number };

/** What an attachment shows now. `percent` only while downloading. */
export type BlobView =
  | { phase: 'preview_only' }
  | { phase: 'downloading'; percent: number }
  | { phase: 'complete' }
  | { phase: 'damaged'; reason: string };

export const BLOB_PHASES = ['preview_only', 'downloading', 'complete', 'damaged'] as const;

/** What a damaged attachment says, per kind (`attachment.damaged.*`). */
export function damagedKey(kind: AttachmentKind): string {
  return `attachment.damaged.${kind}`;
}

export const ATTACHMENT_KINDS: readonly AttachmentKind[] = ['photo', 'voice', 'file'];

/** Whole percent of `have` of `of`, 0..=100 (an unknown total counts as none yet). */
export function percent(have: number, of: number): number {
  if (!(of > 0)) return 0;
  return Math.min(100, Math.max(0, Math.floor((have / of) * 100)));
}

/** Combines the message's state with the latest progress event for its blob. */
export function blobView(state: BlobState, live: Progress | null): BlobView {
  switch (state.state) {
    case 'complete':
      return { phase: 'complete' };
    case 'damaged':
      return { phase: 'damaged', reason: state.reason };
    case 'downloading': {
      const seen = live ? percent(live.have, live.of) : 0;
      return { phase: 'downloading', percent: Math.max(percent(state.have, state.of), seen) };
    }
    case 'preview_only':
      // The tap started it (or the core did) and events came before the message was re-read.
      return live ? { phase: 'downloading', percent: percent(live.have, live.of) } : { phase: 'preview_only' };
  }
}

/** The box a photo's thumbnail fits in, in CSS pixels (it shrinks further in a narrow window). */
export const THUMB_MAX_W = 288;
export const THUMB_MAX_H = 320;

/**
 * A preview safe to show: only an inline picture. The preview comes from the sender's device,
 * and anything else (an address on the internet) would tell a stranger when it is looked at.
 */
export function safePreview(preview: string | null): string | null {
  return preview && /^data:image\/(jpeg|png|webp);base64,/i.test(preview) ? preview : null;
}

/** The size a thumbnail is drawn at: the photo's aspect ratio, within `maxW` × `maxH`. */
export function thumbSize(
  a: Pick<Attachment, 'width' | 'height'>,
  maxW = THUMB_MAX_W,
  maxH = THUMB_MAX_H,
): { width: number; height: number } {
  const w = a.width ?? 0;
  const h = a.height ?? 0;
  if (w <= 0 || h <= 0) return { width: maxW, height: Math.round((maxW * 3) / 4) };
  const scale = Math.min(1, maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** The files a paste or drop carries (a pasted screenshot is a file named like "image.png"). */
export function filesOf(data: DataTransfer | null): File[] {
  if (!data) return [];
  if (data.files && data.files.length > 0) return [...data.files];
  const out: File[] = [];
  for (const item of data.items ?? []) {
    if (item.kind === 'file') {
      const f = item.getAsFile();
      if (f) out.push(f);
    }
  }
  return out;
}

/**
 * The files a paste should send. Text that comes with an image (a word processor puts a
 * picture of the copied text beside it) is pasted as text instead.
 */
export function pastedFiles(data: DataTransfer | null): File[] {
  if (!data || (data.getData?.('text/plain') ?? '').trim() !== '') return [];
  return filesOf(data);
}

/** Whether a drag carries files (its items are not readable before the drop). */
export function draggingFiles(data: DataTransfer | null): boolean {
  return !!data && [...(data.types ?? [])].includes('Files');
}
