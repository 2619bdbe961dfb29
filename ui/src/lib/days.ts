// Rows of a conversation: its messages with a separator before the first message of each
// local calendar day.

import type { Message } from '../api';

export type Row =
  | { type: 'day'; key: string; day: string; ms: number }
  | { type: 'message'; key: string; message: Message };

/** The local calendar day of a time, as `YYYY-MM-DD`. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  const mm = String(d.getMonth() + 1).padStart(2, '0');
  const dd = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${mm}-${dd}`;
}

/** Messages (oldest first) interleaved with day separators. */
export function withDaySeparators(messages: readonly Message[]): Row[] {
  const rows: Row[] = [];
  let current = '';
  for (const m of messages) {
    const day = dayKey(m.sent_at_ms);
    if (day !== current) {
      current = day;
      rows.push({ type: 'day', key: `day:${day}`, day, ms: m.sent_at_ms });
    }
    rows.push({ type: 'message', key: m.id, message: m });
  }
  return rows;
}
