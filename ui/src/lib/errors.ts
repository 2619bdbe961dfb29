// Which error kinds the UI has its own words for (CONTRACT: kinds of a rejected command).

export const KNOWN_ERROR_KINDS = [
  'invalid',
  'not_found',
  'in_use',
  'network',
  'crypto',
  'storage',
  'corrupt',
  'refused',
  'unavailable',
  'invite',
  'not_allowed',
  'no_identity',
  'identity_exists',
  'shutdown',
  'envelope',
  'document',
  'bundle',
  'too_large',
  'unknown',
] as const;

/** The translation key for an error kind; kinds the UI does not know read as "unknown". */
export function errorKey(kind: string): string {
  return (KNOWN_ERROR_KINDS as readonly string[]).includes(kind)
    ? `error.kind.${kind}`
    : 'error.kind.unknown';
}
