import { describe, expect, it } from 'vitest';
import { authorName, messageText } from './text';

const words = { checkIn: '저는 안전해요', deleted: '삭제된 메시지', you: '나' };

describe('how a message reads when quoted or listed', () => {
  it('shows a check-in in the UI language, never the core text', () => {
    expect(messageText({ kind: 'check_in', body: "✔ I'm safe", deleted: false }, words)).toBe('저는 안전해요');
  });

  it('shows text as written, and deleted messages as deleted', () => {
    expect(messageText({ kind: 'text', body: '밥 먹었니?', deleted: false }, words)).toBe('밥 먹었니?');
    expect(messageText({ kind: 'text', body: '', deleted: true }, words)).toBe('삭제된 메시지');
    expect(messageText({ kind: 'check_in', body: "✔ I'm safe", deleted: true }, words)).toBe('삭제된 메시지');
  });

  it('calls my own messages mine, not by my name', () => {
    expect(authorName({ mine: true, author_name: 'Minji' }, words)).toBe('나');
    expect(authorName({ mine: false, author_name: 'Grandma' }, words)).toBe('Grandma');
  });
});
