import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` every `everyMs` until it returns a truthy value, and returns that value;
 * a check that throws counts as not yet. After `timeoutMs` it fails naming `what` (a
 * function: described when it fails, e.g. with the output so far) and the last error. Fixed pauses need no helper: `setTimeout` from `node:timers/promises`.
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      const cause = last instanceof Error ? ` (last error: ${last.message})` : '';
      const described = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${cause}`, { cause: last });
    }
    await sleep(everyMs);
  }
}
