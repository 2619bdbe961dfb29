// Language and theme: chosen in Settings, kept in localStorage; the language starts as the
// system's (Korean if it starts with "ko", English otherwise).

export type Lang = 'ko' | 'en';
export type Theme = 'system' | 'light' | 'dark';

export const LANG_KEY = 'hearth.lang';
export const THEME_KEY = 'hearth.theme';

export function detectLang(systemLanguage: string | undefined | null): Lang {
  return (systemLanguage ?? '').toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function parseLang(stored: string | null, systemLanguage: string | undefined): Lang {
  return stored === 'ko' || stored === 'en' ? stored : detectLang(systemLanguage);
}

export function parseTheme(stored: string | null): Theme {
  return stored === 'light' || stored === 'dark' ? stored : 'system';
}

type StorageLike = Pick<Storage, 'getItem' | 'setItem'>;

function storage(): StorageLike | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function loadLang(): Lang {
  const nav = typeof navigator === 'undefined' ? undefined : navigator.language;
  return parseLang(storage()?.getItem(LANG_KEY) ?? null, nav);
}

export function loadTheme(): Theme {
  return parseTheme(storage()?.getItem(THEME_KEY) ?? null);
}

export function save(key: string, value: string): void {
  try {
    storage()?.setItem(key, value);
  } catch {
    // Private mode or a full disk: the choice lasts for this session only.
  }
}
