// Moves the X input focus away from the app, to another window, the way it is when someone
// switches to another program (xmessage for the window, xdotool to focus it).

import { spawn, execFileSync } from 'node:child_process';
import { until, track } from './harness.mjs';

export async function focusAnotherWindow() {
  const title = `other-${process.pid}`;
  track(spawn('xmessage', ['-title', title, '-geometry', '+600+600', 'another program'], {
    stdio: 'ignore',
    detached: true,
  }));
  const id = await until('the other window', () => {
    try {
      return execFileSync('xdotool', ['search', '--name', title], { encoding: 'utf8' }).trim().split('\n')[0];
    } catch {
      return undefined;
    }
  }, 10_000);
  execFileSync('xdotool', ['windowfocus', '--sync', id]);
}
