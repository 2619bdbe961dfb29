import { describe, expect, it } from 'vitest';
import { toApiError } from '../api';

describe('command errors', () => {
  it('keeps the shell’s kind and message', () => {
    expect(toApiError({ kind: 'invalid', message: 'Bad code.' })).toEqual({ kind: 'invalid', message: 'Bad code.' });
  });

  it('turns text and exceptions into errors with a kind', () => {
    expect(toApiError('boom')).toEqual({ kind: 'unknown', message: 'boom' });
    expect(toApiError(new Error('no ipc'))).toEqual({ kind: 'unavailable', message: 'no ipc' });
    expect(toApiError({ kind: 'network' })).toEqual({ kind: 'network', message: '' });
    expect(toApiError(undefined).kind).toBe('unknown');
  });
});
