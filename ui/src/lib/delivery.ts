// How the delivery state of one of my messages is shown: an icon and words.

import type { DeliveryState, MemberState } from '../api';

/** `hint`: a longer explanation for a tooltip, where the words alone may puzzle. */
export type DeliveryLabel = { icon: string; key: string; hint?: string };

/** In order of progress: each state is further along than the ones before it. */
export const DELIVERY_STATES: readonly DeliveryState[] = [
  'queued',
  'handed_on',
  'in_mailbox',
  'delivered',
  'read',
];

/** How far along a state is (higher is further); -1 for none or an unknown one. */
export function deliveryRank(status: string | null | undefined): number {
  return status ? (DELIVERY_STATES as readonly string[]).indexOf(status) : -1;
}

const LABELS: Record<DeliveryState, DeliveryLabel> = {
  queued: { icon: '⏳', key: 'delivery.queued' },
  handed_on: { icon: '↪', key: 'delivery.handed_on' },
  in_mailbox: { icon: '📬', key: 'delivery.in_mailbox', hint: 'delivery.in_mailbox_hint' },
  delivered: { icon: '✓✓', key: 'delivery.delivered' },
  read: { icon: '👁', key: 'delivery.read' },
};

/** The label of a state, or null for messages that carry none (other people's). */
export function deliveryLabel(status: string | null | undefined): DeliveryLabel | null {
  if (!status) return null;
  return (LABELS as Record<string, DeliveryLabel | undefined>)[status] ?? null;
}

export type ReceiptSummary = { total: number; delivered: number; read: number };

/** For groups: how many members have it (delivered or read) and how many read it. */
export function summariseReceipts(receipts: readonly [string, MemberState][]): ReceiptSummary {
  let delivered = 0;
  let read = 0;
  for (const [, s] of receipts) {
    if (s === 'read') {
      read++;
      delivered++;
    } else if (s === 'delivered') {
      delivered++;
    }
  }
  return { total: receipts.length, delivered, read };
}
