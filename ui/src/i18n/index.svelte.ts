// The current language as Svelte state, and `t()` for components. Reading `i18n.lang` inside
// `t()` makes every text re-render when the language changes.

import { en, type Key } from './en';
import { ko } from './ko';
import { translate, pluralKey, type Params } from './translate';
import { loadLang, save, LANG_KEY, type Lang } from '../lib/prefs';
import type { MessageWords } from '../lib/text';

export type { Key };

const dicts: Record<Lang, Record<string, string>> = { en, ko };

export const i18n = $state({ lang: loadLang() });

/** The BCP 47 locale for Intl: the system's own variant when it speaks the chosen language. */
export function locale(): string {
  const sys = typeof navigator === 'undefined' ? '' : navigator.language || '';
  return sys.toLowerCase().startsWith(i18n.lang) ? sys : i18n.lang === 'ko' ? 'ko-KR' : 'en';
}

export function t(key: Key, params?: Params): string {
  return translate(dicts[i18n.lang], locale(), key, params);
}

/** Plural-aware: `key` names a group with `.one`/`.other` variants; `{count}` is filled in. */
export function tn(key: string, count: number, params?: Params): string {
  const dict = dicts[i18n.lang];
  return translate(dict, locale(), pluralKey(dict, locale(), key, count), { count, ...params });
}

/** Translation of a key computed at run time (path labels, error kinds…). */
export function tk(key: string, params?: Params): string {
  return translate(dicts[i18n.lang], locale(), key, params);
}

export function setLang(lang: Lang): void {
  i18n.lang = lang;
  save(LANG_KEY, lang);
  applyLang();
}

export function applyLang(): void {
  if (typeof document !== 'undefined') document.documentElement.lang = i18n.lang;
}

/** The words lib/text.ts needs, in the current language (read inside `$derived`). */
export function messageWords(): MessageWords {
  return {
    checkIn: t('checkin.card_title'),
    deleted: t('message.deleted'),
    you: t('common.you'),
    photo: t('attachment.photo'),
    voice: t('attachment.voice'),
  };
}
