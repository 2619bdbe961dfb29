import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { en } from './en';
import { ko } from './ko';
import { translate, pluralKey } from './translate';
import { DELIVERY_STATES, deliveryLabel } from '../lib/delivery';
import { PATHS, reachWords } from '../lib/reach';
import { KNOWN_ERROR_KINDS, errorKey } from '../lib/errors';
import {
  MAILBOX_KEPT_KEY,
  NETWORK_MODES,
  NO_MAILBOX_KEY,
  PUBLIC_STATES,
  RELAY_STATES,
  networkModeKey,
  publicStateKey,
  relayStateKey,
} from '../lib/network';
import {
  MAILBOXES_STATES,
  MAILBOX_ACCEPTED_KEY,
  MAILBOX_RELAY_STATES,
  mailboxRelayStateKey,
  mailboxesStateKey,
} from '../lib/mailboxes';
import { RECORDER_ERRORS, recorderErrorKey } from '../lib/voice';
import { ATTACHMENT_KINDS, damagedKey } from '../lib/attachments';

const dicts: Record<string, Record<string, string>> = { en, ko };
const SRC = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(name) && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Keys used literally as t('…'), tn('…'), tk('…') in components and modules. */
function usedKeys(): { file: string; key: string; plural: boolean }[] {
  const found: { file: string; key: string; plural: boolean }[] = [];
  const call = /\b(t|tn|tk)\(\s*(['"])([^'"]+)\2/g;
  for (const file of files(SRC, /\.(svelte|ts)$/)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(call)) {
      found.push({ file: relative(SRC, file), key: m[3], plural: m[1] === 'tn' });
    }
  }
  return found;
}

function placeholders(s: string): string[] {
  return [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

describe('translations', () => {
  it('have the same keys in Korean and English', () => {
    const enKeys = Object.keys(en).sort();
    const koKeys = Object.keys(ko).sort();
    expect(koKeys.filter((k) => !(k in en))).toEqual([]);
    expect(enKeys.filter((k) => !(k in ko))).toEqual([]);
  });

  it('have no empty text', () => {
    for (const [lang, dict] of Object.entries(dicts)) {
      const empty = Object.entries(dict)
        .filter(([, v]) => typeof v !== 'string' || v.trim() === '')
        .map(([k]) => `${lang}:${k}`);
      expect(empty).toEqual([]);
    }
  });

  it('use the same placeholders in both languages', () => {
    const differ = Object.keys(en).filter(
      (k) =>
        placeholders((en as Record<string, string>)[k]).join() !==
        placeholders((ko as Record<string, string>)[k] ?? '').join(),
    );
    expect(differ).toEqual([]);
  });

  it('cover every key the components use', () => {
    const used = usedKeys();
    // The scan must see the app's screens, or it proves nothing.
    expect(used.length).toBeGreaterThan(100);
    expect(new Set(used.map((u) => u.file.split('/')[0]))).toContain('components');
    const missing: string[] = [];
    for (const { file, key, plural } of used) {
      for (const [lang, dict] of Object.entries(dicts)) {
        const keys = plural ? [`${key}.one`, `${key}.other`] : [key];
        for (const k of keys) if (!(k in dict)) missing.push(`${lang}:${k} (${file})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('cover the keys computed at run time', () => {
    const keys = [
      ...DELIVERY_STATES.map((s) => deliveryLabel(s)!.key),
      ...DELIVERY_STATES.flatMap((s) => deliveryLabel(s)!.hint ?? []),
      ...RELAY_STATES.map(relayStateKey),
      ...['one', 'other'].map((n) => `${MAILBOX_KEPT_KEY}.${n}`),
      NO_MAILBOX_KEY,
      ...NETWORK_MODES.map(networkModeKey),
      'board.reachable',
      'board.mailbox_only',
      'board.unreachable',
      ...PATHS.flatMap((p) => [reachWords(p, false, null).key, reachWords(p, true, 'Grandma').key]),
      ...PUBLIC_STATES.filter((s) => s !== 'connected').map(publicStateKey),
      ...['one', 'other'].map((n) => `${publicStateKey('connected')}.${n}`),
      ...KNOWN_ERROR_KINDS.map(errorKey),
      errorKey('something_new'),
      ...['pending', 'connected', 'refused'].map((s) => `contacts.state.${s}`),
      ...MAILBOXES_STATES.map(mailboxesStateKey),
      ...MAILBOX_RELAY_STATES.map(mailboxRelayStateKey),
      ...['one', 'other'].map((n) => `${MAILBOX_ACCEPTED_KEY}.${n}`),
      ...RECORDER_ERRORS.map(recorderErrorKey),
      ...ATTACHMENT_KINDS.map(damagedKey),
    ];
    for (const dict of Object.values(dicts)) {
      expect(keys.filter((k) => !(k in dict))).toEqual([]);
    }
  });

  it('fills in placeholders and formats numbers for the locale', () => {
    const dict = { greet: 'Hello {name}, {count} new', plain: 'x' };
    expect(translate(dict, 'en', 'greet', { name: 'Mi-ja', count: 12345 })).toBe(
      'Hello Mi-ja, 12,345 new',
    );
    expect(translate(dict, 'en', 'missing.key')).toBe('missing.key');
    expect(translate(dict, 'en', 'greet', { name: 'A' })).toBe('Hello A, {count} new');
  });

  it('picks plural forms per language', () => {
    expect(pluralKey(en, 'en', 'chats.unread', 1)).toBe('chats.unread.one');
    expect(pluralKey(en, 'en', 'chats.unread', 2)).toBe('chats.unread.other');
    expect(pluralKey(ko, 'ko', 'chats.unread', 1)).toBe('chats.unread.other');
  });
});
