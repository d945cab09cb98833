import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { waitFor } from '../cli/wait';

/** Calls `onLine` for each complete line of a stream (and the unterminated rest at its end). */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

/**
 * Whether a process with this pid exists. A zombie (exited, not yet reaped by its
 * parent — common when PID 1 in a container does not reap orphans) counts as gone.
 */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (macOS): kill(0) said it exists
  }
}

/** Resolves when `pid` is gone, or with false after `timeoutMs`. */
export function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  return waitFor(`pid ${pid} to end`, () => !pidAlive(pid), timeoutMs, 25).then(
    () => true,
    () => false,
  );
}
