import { describe, expect, it } from 'vitest';
import type { Outgoing } from '../api';
import { Outbox, fileMaker } from './outbox.svelte';
import { MAX_ATTACHMENT_BYTES } from './attachments';

const outgoing = (name: string): Outgoing => ({ kind: 'file', name, mime: 'text/plain', bytes: new Uint8Array([1]) });

describe('the outbox', () => {
  it('sends one at a time, in the order given, and forgets what was sent', async () => {
    const sent: string[] = [];
    let running = 0;
    const box = new Outbox(async (o) => {
      running++;
      expect(running).toBe(1);
      await new Promise((r) => setTimeout(r, 1));
      sent.push(o.name);
      running--;
    });
    box.add('a', 'file', async () => outgoing('a'));
    box.add('b', 'file', async () => outgoing('b'));
    expect(box.items.map((i) => i.label)).toEqual(['a', 'b']);
    await box.settled();
    expect(sent).toEqual(['a', 'b']);
    expect(box.items).toEqual([]);
  });

  it('keeps a failed one with its reason until retried or dismissed', async () => {
    let fail = true;
    let made = 0;
    const box = new Outbox(async () => {
      if (fail) throw { kind: 'invalid', message: 'This file is not a photo Hearth can read' };
    });
    box.add('sea.heic', 'photo', async () => {
      made++;
      return outgoing('sea.heic');
    });
    box.add('b', 'file', async () => outgoing('b'));
    await box.settled();
    expect(box.items.map((i) => [i.label, i.phase, i.error?.kind])).toEqual([
      ['sea.heic', 'failed', 'invalid'],
      ['b', 'failed', 'invalid'],
    ]);
    box.dismiss(box.items[1].id);
    fail = false;
    box.retry(box.items[0].id);
    expect(box.items[0].phase).toBe('waiting');
    await box.settled();
    expect(box.items).toEqual([]);
    expect(made).toBe(2);
  });

  it('refuses a file over 100 MB before reading it', async () => {
    let read = false;
    const huge = {
      name: 'film.mkv',
      type: 'video/x-matroska',
      size: MAX_ATTACHMENT_BYTES + 1,
      arrayBuffer: async () => {
        read = true;
        return new ArrayBuffer(0);
      },
    } as unknown as File;
    await expect(fileMaker(huge, 'file')()).rejects.toMatchObject({ kind: 'too_large' });
    expect(read).toBe(false);
  });

  it('reads a file with its name and type, or a neutral type when it has none', async () => {
    const f = { name: 'notes', type: '', size: 2, arrayBuffer: async () => new Uint8Array([4, 5]).buffer } as unknown as File;
    const o = await fileMaker(f, 'file')();
    expect(o).toMatchObject({ kind: 'file', name: 'notes', mime: 'application/octet-stream' });
    expect([...o.bytes]).toEqual([4, 5]);
  });
});
