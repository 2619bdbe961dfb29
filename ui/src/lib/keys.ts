// Keyboard: what counts as "Enter to send/search".

export type KeyLike = Pick<KeyboardEvent, 'key' | 'shiftKey' | 'isComposing' | 'keyCode'>;

/**
 * Enter without Shift, and not while an IME (Korean, for one) is composing a syllable: then
 * Enter only finishes the syllable. Some automation sends Enter as a literal "\n" key.
 */
export function isEnter(e: KeyLike): boolean {
  return (e.key === 'Enter' || e.key === '\n') && !e.shiftKey && !e.isComposing && e.keyCode !== 229;
}
