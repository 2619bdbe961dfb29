// Reactions on a message: chips with counts, and what a click on an emoji means.

/** The picker, in this order. */
export const REACTION_EMOJIS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export type ReactionChip = { emoji: string; count: number; mine: boolean };

/**
 * One chip per emoji with its count, in the picker's order and then by first appearance;
 * `mine` marks the one I chose.
 */
export function countReactions(
  reactions: readonly [string, string][],
  me: string,
): ReactionChip[] {
  const chips = new Map<string, ReactionChip>();
  for (const [account, emoji] of reactions) {
    let chip = chips.get(emoji);
    if (!chip) {
      chip = { emoji, count: 0, mine: false };
      chips.set(emoji, chip);
    }
    chip.count++;
    if (account === me) chip.mine = true;
  }
  const order = (e: string) => {
    const i = (REACTION_EMOJIS as readonly string[]).indexOf(e);
    return i === -1 ? REACTION_EMOJIS.length : i;
  };
  return [...chips.values()].sort((a, b) => order(a.emoji) - order(b.emoji));
}

/** My current reaction, if any. */
export function myReaction(reactions: readonly [string, string][], me: string): string | null {
  for (const [account, emoji] of reactions) if (account === me) return emoji;
  return null;
}

/** The emoji to send after clicking `emoji`: clicking my current reaction removes it (null). */
export function toggleReaction(
  reactions: readonly [string, string][],
  me: string,
  emoji: string,
): string | null {
  return myReaction(reactions, me) === emoji ? null : emoji;
}
