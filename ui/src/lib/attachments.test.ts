import { describe, expect, it } from 'vitest';
import {
  blobView,
  formatSize,
  kindForMime,
  percent,
  thumbSize,
  filesOf,
  pastedFiles,
  safePreview,
} from './attachments';

describe('what a chosen file is sent as', () => {
  it('sends the pictures the core reads as photos', () => {
    expect(kindForMime('image/jpeg')).toBe('photo');
    expect(kindForMime('IMAGE/PNG')).toBe('photo');
    expect(kindForMime('image/pjpeg')).toBe('photo');
  });

  it('sends other pictures as files, whole, rather than have them refused', () => {
    expect(kindForMime('image/heic')).toBe('file');
    expect(kindForMime('image/gif')).toBe('file');
    expect(kindForMime('image/svg+xml')).toBe('file');
  });

  it('sends everything else as a file', () => {
    expect(kindForMime('application/pdf')).toBe('file');
    expect(kindForMime('')).toBe('file');
    expect(kindForMime('audio/ogg')).toBe('file');
  });
});

describe('sizes', () => {
  it('read in the largest sensible unit', () => {
    expect(formatSize(512, 'en')).toBe('512 bytes');
    expect(formatSize(340 * 1024, 'en')).toBe('340 kB');
    expect(formatSize(1.25 * 1024 * 1024, 'en')).toBe('1.3 MB');
    expect(formatSize(3 * 1024 ** 3, 'en')).toBe('3 GB');
  });

  it('read in Korean', () => {
    expect(formatSize(1.5 * 1024 * 1024, 'ko')).toMatch(/^1\.5\s?MB$/);
  });
});

describe('download progress', () => {
  it('is a whole percent', () => {
    expect(percent(1, 3)).toBe(33);
    expect(percent(5, 5)).toBe(100);
    expect(percent(9, 5)).toBe(100);
    expect(percent(0, 0)).toBe(0);
  });

  it('shows the message’s state when no event came', () => {
    expect(blobView({ state: 'preview_only' }, null)).toEqual({ phase: 'preview_only' });
    expect(blobView({ state: 'downloading', have: 1, of: 4 }, null)).toEqual({ phase: 'downloading', percent: 25 });
    expect(blobView({ state: 'complete' }, { have: 1, of: 4 })).toEqual({ phase: 'complete' });
    expect(blobView({ state: 'damaged', reason: 'bad chunk' }, null)).toEqual({ phase: 'damaged', reason: 'bad chunk' });
  });

  it('follows the events, never going back to an older message state', () => {
    expect(blobView({ state: 'downloading', have: 1, of: 4 }, { have: 3, of: 4 })).toEqual({
      phase: 'downloading',
      percent: 75,
    });
    expect(blobView({ state: 'downloading', have: 3, of: 4 }, { have: 1, of: 4 })).toEqual({
      phase: 'downloading',
      percent: 75,
    });
  });

  it('shows a download the tap started before the message is re-read', () => {
    expect(blobView({ state: 'preview_only' }, { have: 0, of: 0 })).toEqual({ phase: 'downloading', percent: 0 });
    expect(blobView({ state: 'preview_only' }, { have: 2, of: 8 })).toEqual({ phase: 'downloading', percent: 25 });
    expect(blobView({ state: 'downloading', have: 2, of: 8 }, { have: 0, of: 0 })).toEqual({
      phase: 'downloading',
      percent: 25,
    });
  });
});

describe('thumbnails', () => {
  it('keep the photo’s aspect ratio within the box', () => {
    expect(thumbSize({ width: 4000, height: 3000 }, 288, 320)).toEqual({ width: 288, height: 216 });
    expect(thumbSize({ width: 1000, height: 3000 }, 288, 320)).toEqual({ width: 107, height: 320 });
  });

  it('never blow a small photo up', () => {
    expect(thumbSize({ width: 100, height: 50 }, 288, 320)).toEqual({ width: 100, height: 50 });
  });

  it('show only inline pictures as previews, never an address to fetch', () => {
    expect(safePreview('data:image/jpeg;base64,/9j/4AAQ')).toBe('data:image/jpeg;base64,/9j/4AAQ');
    expect(safePreview('https://tracker.example/p.jpg')).toBeNull();
    expect(safePreview('data:image/svg+xml;base64,PHN2Zz4=')).toBeNull();
    expect(safePreview(null)).toBeNull();
  });

  it('use a 4:3 box when the size is unknown', () => {
    expect(thumbSize({ width: null, height: null }, 288, 320)).toEqual({ width: 288, height: 216 });
    expect(thumbSize({ width: 0, height: 10 }, 288, 320)).toEqual({ width: 288, height: 216 });
  });
});

describe('pasted and dropped files', () => {
  const file = (name: string) => ({ name }) as unknown as File;

  it('come from the file list', () => {
    const data = { files: [file('a.jpg'), file('b.pdf')], items: [] } as unknown as DataTransfer;
    expect(filesOf(data).map((f) => f.name)).toEqual(['a.jpg', 'b.pdf']);
  });

  it('come from the items when the list is empty (a pasted screenshot)', () => {
    const data = {
      files: [],
      items: [
        { kind: 'string', getAsFile: () => null },
        { kind: 'file', getAsFile: () => file('image.png') },
      ],
    } as unknown as DataTransfer;
    expect(filesOf(data).map((f) => f.name)).toEqual(['image.png']);
    expect(filesOf(null)).toEqual([]);
  });

  it('paste as files only without text beside them', () => {
    const image = { kind: 'file', getAsFile: () => file('image.png') };
    const screenshot = { files: [], items: [image], getData: () => '' } as unknown as DataTransfer;
    const fromWord = { files: [], items: [image], getData: () => 'Dear all' } as unknown as DataTransfer;
    expect(pastedFiles(screenshot).map((f) => f.name)).toEqual(['image.png']);
    expect(pastedFiles(fromWord)).toEqual([]);
  });
});
