// Looking up and filling in translated strings, without any UI framework (tested directly).

export type Dict = Readonly<Record<string, string>>;
export type Params = Readonly<Record<string, string | number>>;

/**
 * The text of `key` with `{name}` placeholders filled in; numbers are formatted for `locale`.
 * A missing key shows as the key itself, so a gap is visible rather than blank.
 */
export function translate(dict: Dict, locale: string, key: string, params?: Params): string {
  const text = dict[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    if (v === undefined) return whole;
    return typeof v === 'number' ? new Intl.NumberFormat(locale).format(v) : v;
  });
}

/** The plural variant of `key` for `count`: `key.one`, `key.other`… (falls back to `.other`). */
export function pluralKey(dict: Dict, locale: string, key: string, count: number): string {
  const form = new Intl.PluralRules(locale).select(count);
  const specific = `${key}.${form}`;
  return specific in dict ? specific : `${key}.other`;
}
