// Every error kind the core can produce has its own words in the UI: the kinds are read from
// hearth-core's `Error::kind()`, so a new kind there fails here until it is translated.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KNOWN_ERROR_KINDS, errorKey } from './errors';
import { en } from '../i18n/en';
import { ko } from '../i18n/ko';

const coreErrors = readFileSync(
  fileURLToPath(new URL('../../../core/src/error.rs', import.meta.url)),
  'utf8',
);
const kindFn = coreErrors.slice(coreErrors.indexOf('pub fn kind('));
const coreKinds = [...kindFn.slice(0, kindFn.indexOf('\n    }\n')).matchAll(/=> "([a-z_]+)"/g)].map(
  (m) => m[1],
);

describe('error kinds', () => {
  it('reads the kinds from the core', () => {
    expect(coreKinds).toContain('invalid');
    expect(coreKinds.length).toBeGreaterThan(8);
  });

  it('has words for every kind the core produces, in both languages', () => {
    for (const kind of coreKinds) {
      expect(KNOWN_ERROR_KINDS).toContain(kind);
      const key = errorKey(kind) as keyof typeof en;
      expect(key).toBe(`error.kind.${kind}`);
      expect(en[key]).toBeTruthy();
      expect((ko as Record<string, string>)[key]).toBeTruthy();
    }
  });

  it('reads an unknown kind as unknown', () => {
    expect(errorKey('something_new')).toBe('error.kind.unknown');
  });
});
