// The UI may call exactly the commands the shell declares, registers and allows: the command
// names in api.ts, in src-tauri's build.rs (each gets an allow-<command> permission), in its
// generate_handler! list, and in the window's capability are one set. A command missing from
// the capability would fail only at run time, for whoever first used it; one allowed but not
// used would widen what the window may do.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (path: string) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

const uiCalls = sorted([...read('../api.ts').matchAll(/call<[^>]*>\('([a-z_]+)'/g)].map((m) => m[1]));

const buildRs = read('../../../src-tauri/build.rs');
const declared = sorted(
  [...buildRs.slice(buildRs.indexOf('const COMMANDS'), buildRs.indexOf('];')).matchAll(/"([a-z_]+)"/g)].map(
    (m) => m[1],
  ),
);

const libRs = read('../../../src-tauri/src/lib.rs');
const handlerList = libRs.slice(libRs.indexOf('generate_handler!['), libRs.indexOf('])', libRs.indexOf('generate_handler![')));
// `commands::chats`, `attachments::send_attachment`: the shell's modules, each command once.
const registered = sorted([...handlerList.matchAll(/\b[a-z_]+::([a-z_]+)/g)].map((m) => m[1]));

const capability = JSON.parse(read('../../../src-tauri/capabilities/main.json')) as { permissions: string[] };
const allowed = sorted(
  capability.permissions
    .filter((p) => p.startsWith('allow-'))
    .map((p) => p.slice('allow-'.length).replaceAll('-', '_')),
);

describe('the commands the UI uses', () => {
  it('are read from every place that names them', () => {
    expect(uiCalls).toContain('send_message');
    expect(uiCalls.length).toBeGreaterThan(20);
  });

  it('are the ones the shell declares', () => {
    expect(declared).toEqual(uiCalls);
  });

  it('are the ones the shell registers', () => {
    expect(registered).toEqual(uiCalls);
  });

  it('are exactly the ones the window is allowed', () => {
    expect(allowed).toEqual(uiCalls);
  });

  it('leave the window nothing else but listening to the node’s events', () => {
    const others = capability.permissions.filter((p) => !p.startsWith('allow-'));
    expect(others.sort()).toEqual(['core:event:allow-listen', 'core:event:allow-unlisten']);
  });
});
