import { describe, expect, it } from 'vitest';
import { detectLang, parseLang, parseTheme } from './prefs';

describe('language and theme preferences', () => {
  it('starts in Korean on a Korean system, English otherwise', () => {
    expect(detectLang('ko')).toBe('ko');
    expect(detectLang('ko-KR')).toBe('ko');
    expect(detectLang('en-US')).toBe('en');
    expect(detectLang('de')).toBe('en');
    expect(detectLang(undefined)).toBe('en');
  });

  it('prefers the stored choice', () => {
    expect(parseLang('en', 'ko-KR')).toBe('en');
    expect(parseLang('ko', 'en-US')).toBe('ko');
    expect(parseLang('fr', 'ko-KR')).toBe('ko');
    expect(parseLang(null, 'en')).toBe('en');
  });

  it('falls back to the system theme', () => {
    expect(parseTheme('dark')).toBe('dark');
    expect(parseTheme('light')).toBe('light');
    expect(parseTheme(null)).toBe('system');
    expect(parseTheme('neon')).toBe('system');
  });
});
