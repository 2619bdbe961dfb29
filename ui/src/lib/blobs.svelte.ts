// Blobs (the bytes of photos, voice messages and files) as the UI holds them: live download
// progress from `blob_progress` events, and the bytes as an object URL to show or play.
//
// Progress is kept per blob (a few numbers each); once the download is whole, the
// `messages_changed` that follows brings the message's own `complete` state, which wins. Events are not coalesced like the others:
// each is one number for one bar, and the bar should move as the chunks come.

import * as api from '../api';
import type { Attachment, HearthEvent } from '../api';
import type { Progress } from './attachments';

const live = $state<Record<string, Progress>>({});

/** The latest progress event for `blob`, or null (read inside `$derived` to follow it). */
export function progressOf(blob: string): Progress | null {
  return live[blob] ?? null;
}

export function noteProgress(e: Extract<HearthEvent, { event: 'blob_progress' }>): void {
  // The last chunk stays at 100 % until the message (re-read) says `complete`.
  live[e.blob] = { have: Math.min(e.have, e.of), of: e.of };
}

/** The person asked for it: show it as started (0 %) at once, before the first chunk comes. */
export function startProgress(blob: string): void {
  live[blob] ??= { have: 0, of: 0 };
}

/** Asking for it failed: back to what the message says. */
export function clearProgress(blob: string): void {
  delete live[blob];
}

/**
 * The whole file as an object URL. The caller revokes it (`URL.revokeObjectURL`) when it is no
 * longer shown; rejects like `blob_bytes` (`not_found` while it is not downloaded).
 */
export async function objectUrl(a: Pick<Attachment, 'blob' | 'mime'>): Promise<string> {
  const bytes = await api.blobBytes(a.blob);
  return URL.createObjectURL(new Blob([bytes], { type: a.mime }));
}

/** Downloads it now over any path (the person tapped it); the bar shows at once. */
export async function download(a: Pick<Attachment, 'blob'>): Promise<void> {
  startProgress(a.blob);
  try {
    await api.fetchBlob(a.blob);
  } catch (e) {
    clearProgress(a.blob);
    throw e;
  }
}
