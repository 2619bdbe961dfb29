import { describe, expect, it } from 'vitest';
import { countReactions, myReaction, toggleReaction, REACTION_EMOJIS } from './reactions';

const ME = 'me';

describe('reactions', () => {
  it('counts each emoji and marks mine, in the picker order', () => {
    const chips = countReactions(
      [
        ['b', '😂'],
        [ME, '👍'],
        ['c', '👍'],
        ['d', '😂'],
        ['e', '🎉'],
      ],
      ME,
    );
    expect(chips).toEqual([
      { emoji: '👍', count: 2, mine: true },
      { emoji: '😂', count: 2, mine: false },
      { emoji: '🎉', count: 1, mine: false },
    ]);
  });

  it('has no chips without reactions', () => {
    expect(countReactions([], ME)).toEqual([]);
  });

  it('offers the six picker emojis', () => {
    expect([...REACTION_EMOJIS]).toEqual(['👍', '❤️', '😂', '😮', '😢', '🙏']);
  });

  it('removes my reaction when I click it again', () => {
    const r: [string, string][] = [[ME, '❤️'], ['x', '👍']];
    expect(myReaction(r, ME)).toBe('❤️');
    expect(toggleReaction(r, ME, '❤️')).toBeNull();
  });

  it('sets or replaces my reaction otherwise', () => {
    expect(toggleReaction([[ME, '❤️']], ME, '👍')).toBe('👍');
    expect(toggleReaction([['x', '👍']], ME, '👍')).toBe('👍');
    expect(toggleReaction([], ME, '🙏')).toBe('🙏');
  });
});
