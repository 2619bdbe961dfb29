import { describe, expect, it } from 'vitest';
import { isEnter } from './keys';

const key = (k: Partial<KeyboardEvent>) => ({ key: '', shiftKey: false, isComposing: false, keyCode: 0, ...k });

describe('Enter to send', () => {
  it('sends on Enter', () => {
    expect(isEnter(key({ key: 'Enter', keyCode: 13 }))).toBe(true);
    expect(isEnter(key({ key: '\n' }))).toBe(true);
  });

  it('keeps Shift+Enter for a new line', () => {
    expect(isEnter(key({ key: 'Enter', shiftKey: true }))).toBe(false);
  });

  it('lets an IME finish a Korean syllable first', () => {
    expect(isEnter(key({ key: 'Enter', isComposing: true }))).toBe(false);
    expect(isEnter(key({ key: 'Process', keyCode: 229 }))).toBe(false);
    expect(isEnter(key({ key: 'Enter', keyCode: 229 }))).toBe(false);
  });

  it('ignores other keys', () => {
    expect(isEnter(key({ key: 'a' }))).toBe(false);
  });
});
