import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatMessage } from '../src/chat-store';
import { ChatApiError, type ChatApi, type HistoryRead } from './api';
import { LoadWriter, type Ack } from './load';
import { TargetError, type Target } from './target';
import type { CycleResult } from './verdict';

export interface RunnerOptions {
  /** Messages written before each kill. */
  messages: number;
  cycles: number;
  load: boolean;
  /** Writes per second of the --load writer. */
  rate: number;
  /** How long Redis and the service get to come back after each kill. */
  recoveryTimeoutMs: number;
  /**
   * The service's history limit when known (GET /api/status): messages pushed out by
   * the limit are counted as trimmed, not lost.
   */
  historyLimit?: number;
  /**
   * Without --load: the pause between the last write and the kill. Longer than
   * everysec's 1 s fsync interval, so the plain experiment (write, then kill, as the
   * tutorial does) expects nothing lost under either policy.
   */
  settleMs?: number;
  /** With --load: how long the writer runs before the kill (fills the "last second"). */
  warmupMs?: number;
  /** With --load: how long the writer keeps going after the service is ready again. */
  tailMs?: number;
  /** --redis managed with rdb: the dump interval; acknowledgements within it before the kill are counted as windowAcks. */
  snapshotSeconds?: number;
  progress?: (line: string) => void;
  /** Called with each finished cycle. */
  onCycle?: (result: CycleResult) => void;
}

export const AUTHOR = 'experiment';

/** Runs the kill/restart cycles against a started target. */
export async function runCycles(target: Target, api: ChatApi, opts: RunnerOptions): Promise<CycleResult[]> {
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const progress = opts.progress ?? (() => {});
  const results: CycleResult[] = [];
  for (let cycle = 1; cycle <= opts.cycles; cycle++) {
    const tag = `cycle ${cycle}/${opts.cycles}`;
    const result = await runCycle(target, api, opts, cycle, `exp-${runId}-c${cycle}`, (s) => progress(`${tag}: ${s}`));
    results.push(result);
    progress(
      `${tag}: ${result.acknowledged} acknowledged, ${result.survived} present, ${result.lost} lost, ` +
        `Redis back in ${result.redisRecoveryMs} ms, service in ${result.appRecoveryMs} ms` +
        (result.aofLoaded ? ', AOF loaded' : ''),
    );
    opts.onCycle?.(result);
  }
  return results;
}

async function runCycle(
  target: Target,
  api: ChatApi,
  opts: RunnerOptions,
  cycle: number,
  prefix: string,
  progress: (line: string) => void,
): Promise<CycleResult> {
  if (opts.historyLimit !== undefined && opts.messages > opts.historyLimit) {
    throw new TargetError(
      `--messages ${opts.messages} is more than the service keeps (history limit ${opts.historyLimit}); ` +
        'survivors could not be counted. Use fewer messages or raise chat:historyLimit',
    );
  }

  progress(`writing ${opts.messages} messages`);
  const acks: Ack[] = await writeBatch(api, opts.messages, prefix);

  let writer: LoadWriter | undefined;
  if (opts.load) {
    writer = new LoadWriter(api, { rate: opts.rate, author: AUTHOR, textPrefix: `${prefix}-load` });
    writer.start();
    progress(`writer posting ${opts.rate}/s`);
    await sleep(opts.warmupMs ?? 1500);
  } else {
    await sleep(opts.settleMs ?? 1100);
  }

  progress('killing Redis');
  let kill;
  let redisReadyAt: number;
  const killAt = Date.now();
  try {
    kill = await withTimeout(target.killRedis(), opts.recoveryTimeoutMs, 'the replacement Redis');
    redisReadyAt = Date.now();
    progress(`Redis back after ${kill.redisRecoveryMs} ms; waiting for GET /readyz`);
    await target.waitServiceReady(Math.max(1000, opts.recoveryTimeoutMs - (redisReadyAt - killAt)));
  } catch (err) {
    await writer?.stop();
    throw err;
  }
  const appRecoveryMs = Date.now() - killAt;

  if (writer) {
    await sleep(opts.tailMs ?? 500);
    await writer.stop();
    acks.push(...writer.acks);
  }

  progress('reading the history back');
  // Read all the service keeps: messages nobody acknowledged to us (other users, or a POST
  // whose answer was lost as Redis died after storing it) must not push ours out of a window.
  const history = await readHistory(api, opts.recoveryTimeoutMs);
  const counts = count(acks, history, killAt, redisReadyAt);
  const windowAcks =
    opts.snapshotSeconds === undefined
      ? undefined
      : acks.filter((a) => a.ackedAt >= killAt - lossWindowMs(opts.snapshotSeconds!) && a.ackedAt < redisReadyAt)
          .length;

  return {
    cycle,
    ...counts,
    rejected: writer?.rejectedCount ?? 0,
    redisRecoveryMs: kill.redisRecoveryMs,
    appRecoveryMs,
    aofLoaded: kill.aofLoaded,
    ...(windowAcks === undefined ? {} : { windowAcks, snapshotLoaded: kill.snapshotLoaded ?? false }),
  };
}

/**
 * How far back a crash between RDB dumps may reach: a dump in progress at the crash is lost,
 * so what comes back is the last completed dump, which began at most one interval after the
 * one before it. So: two intervals, plus a second for serverCron's check (every 100 ms) and
 * the dump's own writing.
 */
export function lossWindowMs(snapshotSeconds: number): number {
  return (2 * snapshotSeconds + 1) * 1000;
}

/** Writes `n` messages with unique texts (a few at a time); each must be acknowledged. */
export async function writeBatch(api: ChatApi, n: number, prefix: string): Promise<Ack[]> {
  const acks: Ack[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = ++next;
      const res = await api.post(AUTHOR, `${prefix}-msg-${i}`).catch((err: Error) => {
        throw new TargetError(`POST /api/messages failed before the kill: ${err.message}`);
      });
      if (res.status !== 201 || !res.message) {
        const hint =
          res.status === 429
            ? ' (the service rate-limits posts per client: RATE_LIMIT_PER_MIN=0 turns it off; or use fewer --messages)'
            : res.status === 503
              ? ' (Redis is not reachable: is the stack healthy?)'
              : '';
        throw new TargetError(`POST /api/messages answered ${res.status} before the kill: ${res.error ?? ''}${hint}`);
      }
      acks.push({ message: res.message, ackedAt: Date.now() });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, n) }, worker));
  return acks;
}

/** GET /api/messages, retrying while a replica still answers 503 or the connection fails. */
export async function readHistory(api: ChatApi, timeoutMs: number): Promise<HistoryRead> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await api.history();
    } catch (err) {
      const retriable = !(err instanceof ChatApiError) || err.status === 503 || err.status === 502;
      if (!retriable || Date.now() > until) {
        throw new TargetError(`could not read the history back after the restart: ${(err as Error).message}`);
      }
      await sleep(100);
    }
  }
}

/**
 * Whether a message came back from the restart, read off what the service recorded: the run
 * of Redis that stored it, and where the run after it started (the runs list). The restarted
 * Redis came back with the messages appended before its start position; a run missing from
 * the list came back with none (a memory-only restart forgets the list too, and a lost AOF
 * tail loses a run's record with its first message: they are written in one script).
 */
export function cameBack(message: Pick<ChatMessage, 'run' | 'position'>, facts: HistoryRead['redis']): boolean {
  if (message.run === facts.runId) return true;
  const i = facts.runs.findIndex((r) => r.runId === message.run);
  if (i < 0) return false;
  const next = facts.runs[i + 1]?.startPosition ?? facts.startPosition;
  return message.position < next;
}

/**
 * Compares what was acknowledged with what is there; exported for the unit tests. A message
 * that is not there was trimmed (pushed out by the history limit, not lost) only when it came
 * back from the restart and its position is below the oldest one kept; otherwise it was lost.
 * No timestamp decides anything here.
 */
export function count(
  acks: readonly Ack[],
  history: HistoryRead,
  killAt: number,
  redisReadyAt: number,
): Omit<
  CycleResult,
  'cycle' | 'rejected' | 'redisRecoveryMs' | 'appRecoveryMs' | 'aofLoaded' | 'windowAcks' | 'snapshotLoaded'
> {
  const present = new Set(history.messages.map((m) => m.id));
  let survived = 0;
  let trimmed = 0;
  let acknowledgedBeforeKill = 0;
  let survivedFromBeforeKill = 0;
  let lastSecondAcks = 0;
  for (const a of acks) {
    const there = present.has(a.message.id);
    if (there) survived++;
    else if (a.message.position < history.oldest && cameBack(a.message, history.redis)) trimmed++;
    if (a.ackedAt < killAt) {
      acknowledgedBeforeKill++;
      if (there) survivedFromBeforeKill++;
    }
    if (a.ackedAt >= killAt - 1000 && a.ackedAt < redisReadyAt) lastSecondAcks++;
  }
  return {
    acknowledged: acks.length,
    survived,
    lost: acks.length - survived - trimmed,
    acknowledgedBeforeKill,
    survivedFromBeforeKill,
    lastSecondAcks,
    trimmed,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TargetError(`${what} was not ready within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
