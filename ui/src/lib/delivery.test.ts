import { describe, expect, it } from 'vitest';
import { DELIVERY_STATES, deliveryLabel, deliveryRank, summariseReceipts } from './delivery';

describe('delivery state labels', () => {
  it('maps each state to its icon and words', () => {
    expect(deliveryLabel('queued')).toEqual({ icon: '⏳', key: 'delivery.queued' });
    expect(deliveryLabel('handed_on')).toEqual({ icon: '↪', key: 'delivery.handed_on' });
    expect(deliveryLabel('in_mailbox')).toEqual({
      icon: '📬',
      key: 'delivery.in_mailbox',
      hint: 'delivery.in_mailbox_hint',
    });
    expect(deliveryLabel('delivered')).toEqual({ icon: '✓✓', key: 'delivery.delivered' });
    expect(deliveryLabel('read')?.key).toBe('delivery.read');
  });

  it('gives every state a distinct label', () => {
    const keys = DELIVERY_STATES.map((s) => deliveryLabel(s)?.key);
    expect(new Set(keys).size).toBe(DELIVERY_STATES.length);
  });

  it('orders states by progress: a mailbox holding it is short of delivered', () => {
    expect(DELIVERY_STATES).toEqual(['queued', 'handed_on', 'in_mailbox', 'delivered', 'read']);
    expect(deliveryRank('handed_on')).toBeLessThan(deliveryRank('in_mailbox'));
    expect(deliveryRank('in_mailbox')).toBeLessThan(deliveryRank('delivered'));
    expect(deliveryRank('queued')).toBe(0);
    expect(deliveryRank('read')).toBe(4);
    expect(deliveryRank(null)).toBe(-1);
    expect(deliveryRank('bogus')).toBe(-1);
  });

  it('shows nothing for messages without a state', () => {
    expect(deliveryLabel(null)).toBeNull();
    expect(deliveryLabel('')).toBeNull();
    expect(deliveryLabel('bogus')).toBeNull();
  });

  it('counts read members as delivered too', () => {
    expect(
      summariseReceipts([
        ['a', 'read'],
        ['b', 'delivered'],
        ['c', 'queued'],
      ]),
    ).toEqual({ total: 3, delivered: 2, read: 1 });
  });
});
