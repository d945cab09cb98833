import type { LocalStack } from '../app/local/stack';
import { fillHistory, historyLength } from './fill';
import { runLoad, warmUp, type LoadResult } from './load';

/**
 * GET history latency as the number of messages ever written grows: write up to each
 * step (10, 1 000, 100 000) through ChatStore's transaction shape, trimmed to the
 * stack's history limit, then load GET /api/messages (no limit: the history limit, as the page asks) with
 * autocannon. The cap keeps the list at the limit, so the latency should stay flat.
 */
export interface HistoryStep extends LoadResult {
  written: number;
  listLength: number;
}

export async function measureHistory(
  stack: LocalStack,
  url: string,
  opts: {
    steps: number[];
    connections: number;
    durationSec: number;
    warmupSec: number;
    /** A longer warm-up before the first step (on the empty list), for a freshly started stack. */
    jitWarmupSec: number;
    onProgress?: (what: string) => void;
  },
): Promise<HistoryStep[]> {
  const limit = stack.config.historyLimit;
  const out: HistoryStep[] = [];
  let written = 0;
  const spec = (durationSec: number) => ({
    url: `${url}/api/messages`,
    method: 'GET' as const,
    connections: opts.connections,
    durationSec,
  });
  opts.onProgress?.(`history: warming the replicas up (${opts.jitWarmupSec} s)`);
  await warmUp(spec(1), opts.jitWarmupSec);
  for (const target of opts.steps) {
    opts.onProgress?.(`history: writing ${target.toLocaleString('en')} messages`);
    await fillHistory(stack.redis.url, target - written, { trimTo: limit, offset: written });
    written = target;
    const listLength = await historyLength(stack.redis.url);
    opts.onProgress?.(`history: GET after ${target.toLocaleString('en')} written (${opts.connections} connections)`);
    await warmUp(spec(opts.durationSec), opts.warmupSec);
    out.push({ written, listLength, ...(await runLoad(spec(opts.durationSec))) });
  }
  return out;
}
