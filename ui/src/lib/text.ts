// How a message reads wherever it is quoted or listed (reply quotes, the composer's "replying
// to", search hits): the words are the UI's, in the UI's language, where the core's are not
// meant for people. A check-in's body is the core's English fallback for other clients; the UI
// shows its own translated label instead. My own messages are "You", not my name. A photo,
// voice message or file reads as what it is, with its caption if it has one.

import type { Message } from '../api';

/** Translated words the caller passes in (this module stays free of the i18n runtime). */
export type MessageWords = {
  checkIn: string;
  deleted: string;
  you: string;
  photo: string;
  voice: string;
};

export function messageText(
  m: Pick<Message, 'kind' | 'body' | 'deleted'> & Partial<Pick<Message, 'attachment'>>,
  words: Pick<MessageWords, 'checkIn' | 'deleted' | 'photo' | 'voice'>,
): string {
  if (m.deleted) return words.deleted;
  if (m.kind === 'check_in') return words.checkIn;
  const a = m.attachment;
  if (!a) return m.body;
  const caption = m.body.trim();
  switch (a.kind) {
    case 'photo':
      return `📷 ${caption || words.photo}`;
    case 'voice':
      return caption ? `🎤 ${words.voice}: ${caption}` : `🎤 ${words.voice}`;
    case 'file':
      return caption ? `📎 ${a.name}: ${caption}` : `📎 ${a.name}`;
  }
}

export function authorName(m: Pick<Message, 'mine' | 'author_name'>, words: Pick<MessageWords, 'you'>): string {
  return m.mine ? words.you : m.author_name;
}
