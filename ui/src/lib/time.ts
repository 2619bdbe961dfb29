// Localised dates and relative times with Intl.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Under this age a time is "just now" rather than "0 minutes ago". */
export const JUST_NOW_MS = 45 * SECOND;

export type RelativeUnit = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

/** The value and unit a relative time is spoken in (negative = past). */
export function relativeParts(ms: number, now: number): { value: number; unit: RelativeUnit } {
  const diff = ms - now;
  const abs = Math.abs(diff);
  const sign = diff < 0 ? -1 : 1;
  const pick = (size: number, unit: RelativeUnit) => ({
    value: sign * Math.floor(abs / size),
    unit,
  });
  if (abs < MINUTE) return pick(SECOND, 'second');
  if (abs < HOUR) return pick(MINUTE, 'minute');
  if (abs < DAY) return pick(HOUR, 'hour');
  if (abs < WEEK) return pick(DAY, 'day');
  if (abs < 30 * DAY) return pick(WEEK, 'week');
  if (abs < 365 * DAY) return pick(30 * DAY, 'month');
  return pick(365 * DAY, 'year');
}

/** "3 minutes ago", "어제"…; `justNow` is the translated word for very recent times. */
export function formatRelative(ms: number, now: number, locale: string, justNow: string): string {
  if (Math.abs(now - ms) < JUST_NOW_MS) return justNow;
  const { value, unit } = relativeParts(ms, now);
  return new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(value, unit);
}

export function formatTime(ms: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(ms);
}

/** A day separator: "Monday, 3 March 2025" / "2025년 3월 3일 월요일". */
export function formatDay(ms: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
  }).format(ms);
}

export function formatDateTime(ms: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** Chat list time: the time today, the weekday this week, the date before. */
export function formatListTime(ms: number, now: number, locale: string): string {
  const d = new Date(ms);
  const n = new Date(now);
  if (d.toDateString() === n.toDateString()) return formatTime(ms, locale);
  if (now - ms < 6 * DAY && ms <= now) {
    return new Intl.DateTimeFormat(locale, { weekday: 'short' }).format(ms);
  }
  return new Intl.DateTimeFormat(locale, { dateStyle: 'short' }).format(ms);
}

export function formatNumber(n: number, locale: string): string {
  return new Intl.NumberFormat(locale).format(n);
}
