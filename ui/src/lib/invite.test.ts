import { describe, expect, it } from 'vitest';
import { normaliseCode, looksLikeCode } from './invite';

const CODE = 'HEARTH1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABC';

describe('pasted invite codes', () => {
  it('keeps a clean code as it is', () => {
    expect(normaliseCode(CODE)).toBe(CODE);
  });

  it('removes whitespace and line breaks around and inside', () => {
    const wrapped = `  HEARTH1-ABCDEFGHIJ\nKLMNOPQRST\r\n UVWXYZ 234567\tABC \n`;
    expect(normaliseCode(wrapped)).toBe(CODE);
  });

  it('removes invisible characters chat apps insert', () => {
    expect(normaliseCode('HEARTH1-ABCDEFGHIJ\u200BKLMNOPQRSTUVWXYZ\u00AD234567ABC\uFEFF')).toBe(CODE);
  });

  it('finds the code in a sentence and drops trailing punctuation', () => {
    expect(normaliseCode(`My code is: "${CODE}".`)).toBe(CODE);
  });

  it('accepts lower case', () => {
    expect(normaliseCode(CODE.toLowerCase())).toBe(CODE);
  });

  it('tells codes from other text', () => {
    expect(looksLikeCode(' hearth1-abc ')).toBe(true);
    expect(looksLikeCode('hello')).toBe(false);
    expect(looksLikeCode('HEARTH1-')).toBe(false);
    expect(looksLikeCode('')).toBe(false);
  });
});
