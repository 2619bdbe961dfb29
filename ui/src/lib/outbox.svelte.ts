// Attachments on their way out of the composer: photos and files chosen, pasted or dropped,
// and recorded voice messages. They are sent one at a time, in the order given, so they
// appear in the conversation in that order; each shows as sending until the core has it, and
// one that failed stays, with the reason, until it is tried again or dismissed. A failed
// voice message keeps its recording, so trying again does not mean speaking again.

import { toApiError, type ApiError, type AttachmentKind, type Outgoing } from '../api';
import { MAX_ATTACHMENT_BYTES } from './attachments';

export type OutboxItem = {
  id: number;
  /** What the person sees: the file's name, or "Voice message". */
  label: string;
  kind: AttachmentKind;
  phase: 'waiting' | 'sending' | 'failed';
  error: ApiError | null;
};

/** Reads the attachment to send (again, on a retry). */
export type Make = () => Promise<Outgoing>;

export class Outbox {
  items = $state<OutboxItem[]>([]);
  private readonly makers = new Map<number, Make>();
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  /** `deliver` hands one attachment to the core; it rejects with why it could not. */
  constructor(private readonly deliver: (o: Outgoing) => Promise<void>) {}

  add(label: string, kind: AttachmentKind, make: Make): void {
    const id = ++this.seq;
    this.items.push({ id, label, kind, phase: 'waiting', error: null });
    this.makers.set(id, make);
    this.queue(id);
  }

  retry(id: number): void {
    const item = this.items.find((i) => i.id === id);
    if (!item || item.phase !== 'failed') return;
    item.phase = 'waiting';
    item.error = null;
    this.queue(id);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((i) => i.id !== id);
    this.makers.delete(id);
  }

  /** Resolves once everything queued so far was tried (for tests). */
  settled(): Promise<void> {
    return this.chain;
  }

  private queue(id: number): void {
    this.chain = this.chain.then(() => this.run(id));
  }

  private async run(id: number): Promise<void> {
    const item = this.items.find((i) => i.id === id);
    const make = this.makers.get(id);
    if (!item || !make) return;
    item.phase = 'sending';
    try {
      await this.deliver(await make());
      this.dismiss(id);
    } catch (e) {
      item.phase = 'failed';
      item.error = toApiError(e);
    }
  }
}

/**
 * How a chosen file is read for sending. Too big a file is refused here, with the core's
 * error kind, before it is read into memory.
 */
export function fileMaker(file: File, kind: AttachmentKind): Make {
  return async () => {
    if (file.size > MAX_ATTACHMENT_BYTES) {
      throw { kind: 'too_large', message: `${file.name} is larger than 100 MB.` } satisfies ApiError;
    }
    return {
      kind,
      name: file.name || 'file',
      mime: file.type || 'application/octet-stream',
      bytes: new Uint8Array(await file.arrayBuffer()),
    };
  };
}
