import type { AppendFsync } from '../../infra/persistence';

/** What one kill/restart cycle measured. */
export interface CycleResult {
  cycle: number;
  /** Messages the service acknowledged with 201 during the cycle (the batch, plus the --load writer's). */
  acknowledged: number;
  /** Of those, how many were in the history read back after the restart. */
  survived: number;
  /** acknowledged − survived − trimmed: acknowledged messages that are gone. */
  lost: number;
  /** Acknowledged before the kill was issued: what the old Redis certainly held. */
  acknowledgedBeforeKill: number;
  /** Of those, how many were in the history afterwards (the stateless stack promises 0). */
  survivedFromBeforeKill: number;
  /**
   * Acknowledged from 1 s before the kill until the replacement Redis was ready: the
   * writes `appendfsync everysec` may lose. During the outage the service answers 503,
   * so this is the last second's acks plus the requests the old Redis answered as it died.
   */
  lastSecondAcks: number;
  /** Absent only because the list was trimmed to the service's history limit (not counted as lost). */
  trimmed: number;
  /** --load posts that were not acknowledged (503 while Redis was down, 429, network errors). */
  rejected: number;
  redisRecoveryMs: number;
  /** From the kill until GET /readyz answered 200 again. */
  appRecoveryMs: number;
  aofLoaded: boolean;
  /**
   * --redis managed with rdb: acknowledged from two dump intervals (+1 s) before the kill until
   * the replacement was ready, i.e. what a crash between dumps may lose (runner.ts lossWindowMs).
   */
  windowAcks?: number;
  /** --redis managed: the replacement loaded an RDB snapshot. */
  snapshotLoaded?: boolean;
}

export interface VerdictInput {
  persistence: boolean;
  appendfsync: AppendFsync | null;
  /** --redis managed (the emulation): its persistence and dump interval. */
  managed?: { persistence: 'rdb' | 'off'; snapshotSeconds: number | null };
  cycles: readonly CycleResult[];
}

export interface Verdict {
  ok: boolean;
  /** One sentence: what was promised and what happened. */
  reason: string;
}

/**
 * Whether the outcome is what the stack promises:
 * - memory-only (stateless): nothing acknowledged before a kill is there after it;
 * - AOF with `always`: no acknowledged message is lost, and every replacement loaded the AOF;
 * - AOF with `everysec`: each cycle loses at most the writes acknowledged in the last
 *   second before the kill (CycleResult.lastSecondAcks, measured), and every
 *   replacement loaded the AOF.
 */
export function verdict({ persistence, appendfsync, cycles, managed }: VerdictInput): Verdict {
  if (cycles.length === 0) return { ok: false, reason: 'no cycle completed' };
  const fail = (reason: string): Verdict => ({ ok: false, reason });

  for (const c of cycles) {
    if (c.acknowledgedBeforeKill === 0) {
      return fail(`cycle ${c.cycle}: no message was acknowledged before the kill, so the experiment shows nothing`);
    }
  }

  if (managed?.persistence === 'rdb') {
    // RDB only: a crash between dumps may lose what was acknowledged since the last completed
    // dump began, at most two intervals' worth; anything older than that must have come back.
    const window = managed.snapshotSeconds ?? 0;
    const bad = cycles.find((c) => c.lost > (c.windowAcks ?? 0));
    if (bad) {
      return fail(
        `cycle ${bad.cycle}: ${bad.lost} acknowledged message(s) lost, more than the ${bad.windowAcks ?? 0} acknowledged ` +
          `within two dump intervals (2 × ${window} s + 1 s) before the kill, which is all a crash between dumps may lose`,
      );
    }
    return {
      ok: true,
      reason:
        `managed emulation (rdb, a dump at most every ${window} s) as configured: ${sum(cycles, 'lost')} of ` +
        `${sum(cycles, 'acknowledged')} acknowledged messages lost in crashes between dumps, each cycle within two dump intervals of writes`,
    };
  }
  if (managed?.persistence === 'off') {
    const kept = cycles.find((c) => c.survivedFromBeforeKill > 0);
    if (kept) {
      return fail(
        `cycle ${kept.cycle}: ${kept.survivedFromBeforeKill} messages written before the kill survived, but persistence off keeps nothing`,
      );
    }
    return {
      ok: true,
      reason: `managed emulation (persistence off) as configured: the history was gone after every crash (${sum(cycles, 'acknowledgedBeforeKill')} messages written before the crashes, none survived)`,
    };
  }

  if (!persistence) {
    for (const c of cycles) {
      if (c.survivedFromBeforeKill > 0) {
        return fail(
          `cycle ${c.cycle}: ${c.survivedFromBeforeKill} of ${c.acknowledgedBeforeKill} messages written before the kill were still there after it, ` +
            'but the stateless stack promises memory-only Redis (is Redis persistent after all?)',
        );
      }
    }
    const n = sum(cycles, 'acknowledgedBeforeKill');
    return {
      ok: true,
      reason: `stateless as promised: the history was gone after every kill (${n} messages written before the kills, none survived)`,
    };
  }

  for (const c of cycles) {
    if (!c.aofLoaded) {
      return fail(
        `cycle ${c.cycle}: the replacement Redis did not log "DB loaded from append only file", so it did not start from the AOF`,
      );
    }
  }
  const fsync = appendfsync ?? 'everysec';
  const lost = sum(cycles, 'lost');
  const acked = sum(cycles, 'acknowledged');
  if (fsync === 'always') {
    const bad = cycles.find((c) => c.lost > 0);
    if (bad) {
      return fail(
        `cycle ${bad.cycle}: ${bad.lost} acknowledged message(s) lost, but appendfsync always promises that nothing acknowledged is lost`,
      );
    }
    return {
      ok: true,
      reason: `stateful (appendfsync always) as promised: all ${acked} acknowledged messages survived every kill`,
    };
  }
  const bad = cycles.find((c) => c.lost > c.lastSecondAcks);
  if (bad) {
    return fail(
      `cycle ${bad.cycle}: ${bad.lost} acknowledged message(s) lost, more than the ${bad.lastSecondAcks} acknowledged in the last second ` +
        'before the kill, which is all appendfsync everysec may lose',
    );
  }
  return {
    ok: true,
    reason:
      `stateful (appendfsync everysec) as promised: ${lost} of ${acked} acknowledged messages lost, ` +
      `each cycle within its last second of writes (${sum(cycles, 'lastSecondAcks')} in total)`,
  };
}

export function sum(cycles: readonly CycleResult[], key: keyof CycleResult): number {
  return cycles.reduce((n, c) => n + Number(c[key]), 0);
}

/** Median, rounded to whole milliseconds; 0 for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return Math.round(s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2);
}
