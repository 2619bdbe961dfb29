// Shared UI state: who I am, which screen is open, the last error, and a change counter per
// topic that views watch to know when to re-read (see events.ts).

import type { ApiError, Profile } from '../api';
import { toApiError } from '../api';
import { Coalescer, topicsFor, type Topic } from './events';
import type { HearthEvent } from '../api';
import { loadTheme, save, THEME_KEY, type Theme } from './prefs';
import { noteProgress } from './blobs.svelte';

export type View = 'chats' | 'board' | 'add' | 'new_group' | 'settings';

export const app = $state({
  profile: null as Profile | null,
  view: 'chats' as View,
  /** The open conversation, if any. */
  chat: null as string | null,
  /** A message the open conversation should scroll to (from search). */
  jump: null as string | null,
  theme: loadTheme() as Theme,
});

export function openChat(chat: string | null): void {
  app.view = 'chats';
  app.chat = chat;
  app.jump = null;
}

// --- errors ---------------------------------------------------------------------------------

export const errors = $state({ current: null as (ApiError & { id: number }) | null });
let errorSeq = 0;

/** Shows a failed command in the error banner (and the console for developers). */
export function report(e: unknown): void {
  const err = toApiError(e);
  console.error('hearth:', err.kind, err.message);
  errors.current = { ...err, id: ++errorSeq };
}

export function dismissError(): void {
  errors.current = null;
}

// --- change notifications -------------------------------------------------------------------

const versions = $state<Record<string, number>>({});

/** Read inside an effect to re-run it whenever `topic` changes. */
export function version(topic: Topic): number {
  return versions[topic] ?? 0;
}

export function bump(topics: Iterable<Topic>): void {
  for (const t of topics) versions[t] = (versions[t] ?? 0) + 1;
}

const coalescer = new Coalescer((topics) => bump(topics));

export function handleEvent(e: HearthEvent): void {
  // Download progress moves its bar directly; the message is re-read when the blob is whole.
  if (e.event === 'blob_progress') noteProgress(e);
  coalescer.add(topicsFor(e));
}

// --- theme ----------------------------------------------------------------------------------

export function setTheme(theme: Theme): void {
  app.theme = theme;
  save(THEME_KEY, theme);
  applyTheme();
}

export function applyTheme(): void {
  if (typeof document !== 'undefined') document.documentElement.dataset.theme = app.theme;
}
