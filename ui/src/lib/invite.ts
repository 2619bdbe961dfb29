// Cleaning up a pasted invite code. Codes are `HEARTH1-` and upper-case base32; chat apps and
// mail wrap them, add spaces, quotes or a full stop, and people paste them with a sentence
// around. The shell checks the signature, so cleaning can only help a real code through.

export const CODE_PREFIX = 'HEARTH1-';

const INVISIBLE = /[\s\u200B-\u200D\u2060\uFEFF\u00AD]+/g;
const BASE32 = /^[A-Z2-7]*/;

/** The code inside pasted text: whitespace and invisible characters removed, upper case. */
export function normaliseCode(pasted: string): string {
  const flat = pasted.replace(INVISIBLE, '').toUpperCase();
  const at = flat.indexOf(CODE_PREFIX);
  if (at === -1) return flat;
  const rest = flat.slice(at + CODE_PREFIX.length);
  const body = BASE32.exec(rest)?.[0] ?? '';
  return CODE_PREFIX + body;
}

/** Whether text looks like a code at all (worth sending to the shell). */
export function looksLikeCode(text: string): boolean {
  const code = normaliseCode(text);
  return code.startsWith(CODE_PREFIX) && code.length > CODE_PREFIX.length;
}
