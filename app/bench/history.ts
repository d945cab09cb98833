import type { LocalStack } from '../local/stack';
import { clearHistory, fillHistory, historyLength } from './fill';
import { ms, percentile, runLoad, warmUp, type LoadResult } from './load';

/**
 * GET history latency as the number of messages ever written grows: write up to each
 * step (10, 1 000, 100 000) through ChatStore's transaction shape, trimmed to the
 * stack's history limit, then load GET /api/messages (no limit: the history limit, as the page asks) with
 * autocannon, in a few back-to-back rounds. The cap keeps the list at the limit, so the latency should stay flat.
 */
export interface HistoryStep extends LoadResult {
  written: number;
  listLength: number;
  /** Each round's p99; p99Ms and p50Ms above are the medians over rounds. */
  roundP99Ms: number[];
}

/** Rounds of one step as one row: totals added up, percentiles the medians of the rounds'. */
function overRounds(rounds: LoadResult[]): LoadResult & { roundP99Ms: number[] } {
  const sum = (f: (r: LoadResult) => number) => rounds.reduce((n, r) => n + f(r), 0);
  const seconds = sum((r) => r.durationSec);
  return {
    connections: rounds[0].connections,
    durationSec: ms(seconds),
    rps: Math.round(sum((r) => r.ok) / seconds),
    p50Ms: medianOfRounds(rounds.map((r) => r.p50Ms)),
    p99Ms: medianOfRounds(rounds.map((r) => r.p99Ms)),
    maxMs: Math.max(...rounds.map((r) => r.maxMs)),
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    roundP99Ms: rounds.map((r) => r.p99Ms),
  };
}

/** The middle round's figure (rounds are an odd number: 3 or 5). */
function medianOfRounds(xs: number[]): number {
  return ms(
    percentile(
      [...xs].sort((x, y) => x - y),
      50,
    ),
  );
}

const WARMUP_CONNECTIONS = 16;

export async function measureHistory(
  stack: LocalStack,
  url: string,
  opts: {
    steps: number[];
    connections: number;
    /**
     * Rounds of durationSec per step. A single window's p99 swings by half either way
     * with whichever GC pauses and neighbours land in it; the median of a few rounds is
     * what can be compared from step to step.
     */
    rounds: number;
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
  // Warm up on a full list, then empty it: warmed on an empty list, the replicas met
  // 100-message answers first in the 1 000 step, which then read up to twice as slow
  // as the 100 000 step with the same 100 messages in the list.
  opts.onProgress?.(`history: warming the replicas up on a full list (${opts.jitWarmupSec} s)`);
  await fillHistory(stack.redis.url, limit, { trimTo: limit });
  // Under full load, so the replicas' JIT and heap sizing settle before anything counts.
  await warmUp({ ...spec(1), connections: WARMUP_CONNECTIONS }, opts.jitWarmupSec);
  await clearHistory(stack.redis.url);
  for (const target of opts.steps) {
    opts.onProgress?.(`history: writing ${target.toLocaleString('en')} messages`);
    await fillHistory(stack.redis.url, target - written, { trimTo: limit, offset: written });
    written = target;
    const listLength = await historyLength(stack.redis.url);
    opts.onProgress?.(`history: GET after ${target.toLocaleString('en')} written (${opts.connections} connections)`);
    await warmUp(spec(opts.durationSec), opts.warmupSec);
    const rounds: LoadResult[] = [];
    for (let i = 0; i < opts.rounds; i++) rounds.push(await runLoad(spec(opts.durationSec)));
    out.push({ written, listLength, ...overRounds(rounds) });
  }
  return out;
}
