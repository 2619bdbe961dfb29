import { describe, expect, it } from 'vitest';
import { authorName, messageText } from './text';

const words = { checkIn: '저는 안전해요', deleted: '삭제된 메시지', you: '나', photo: '사진', voice: '음성 메시지' };

function withAttachment(kind: 'photo' | 'voice' | 'file', body = '') {
  return {
    kind: 'text' as const,
    body,
    deleted: false,
    attachment: {
      blob: 'b',
      kind,
      name: '레시피.pdf',
      mime: 'application/pdf',
      size: 1,
      preview: null,
      width: null,
      height: null,
      duration_ms: null,
      waveform: [],
      state: { state: 'complete' as const },
    },
  };
}

describe('how a message reads when quoted or listed', () => {
  it('shows a check-in in the UI language, never the core text', () => {
    expect(messageText({ kind: 'check_in', body: "✔ I'm safe", deleted: false }, words)).toBe('저는 안전해요');
  });

  it('shows text as written, and deleted messages as deleted', () => {
    expect(messageText({ kind: 'text', body: '밥 먹었니?', deleted: false }, words)).toBe('밥 먹었니?');
    expect(messageText({ kind: 'text', body: '', deleted: true }, words)).toBe('삭제된 메시지');
    expect(messageText({ kind: 'check_in', body: "✔ I'm safe", deleted: true }, words)).toBe('삭제된 메시지');
  });

  it('says what an attachment is, with its caption if it has one', () => {
    expect(messageText(withAttachment('photo'), words)).toBe('📷 사진');
    expect(messageText(withAttachment('photo', '바다!'), words)).toBe('📷 바다!');
    expect(messageText(withAttachment('voice'), words)).toBe('🎤 음성 메시지');
    expect(messageText(withAttachment('file'), words)).toBe('📎 레시피.pdf');
    expect(messageText(withAttachment('file', '이거요'), words)).toBe('📎 레시피.pdf: 이거요');
    expect(messageText({ ...withAttachment('photo'), deleted: true }, words)).toBe('삭제된 메시지');
  });

  it('calls my own messages mine, not by my name', () => {
    expect(authorName({ mine: true, author_name: 'Minji' }, words)).toBe('나');
    expect(authorName({ mine: false, author_name: 'Grandma' }, words)).toBe('Grandma');
  });
});
