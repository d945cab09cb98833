/**
 * Getting Redis's append-only files consistent on disk before they are copied or snapshotted.
 *
 * Redis's own procedure ("Backing up AOF persistence", redis.io docs, Redis persistence):
 * since 7.0 the AOF is several files in `appenddirname`; copying them during a rewrite may give
 * an invalid backup, so turn automatic rewrites off (`CONFIG SET auto-aof-rewrite-percentage 0`),
 * check `INFO persistence` until `aof_rewrite_in_progress:0`, copy, then set the old value back.
 *
 * On top of that we run one rewrite of our own (BGREWRITEAOF) and wait until it has finished:
 * the rewrite writes a new base file holding the whole dataset as of its start, fsyncs it and
 * then the manifest (redis/redis src/aof.c rewriteAppendOnlyFile: fflush + fsync;
 * backgroundRewriteDoneHandler persists the manifest). So every write acknowledged before the
 * backup began is in files that are on the disk itself, whatever appendfsync says; a block-level
 * volume snapshot sees only the disk, not the page cache. A SAVE/BGSAVE would not do: with
 * `appendonly yes` Redis loads the AOF at start and ignores dump.rdb.
 */

/** The four commands the procedure needs; over ioredis locally, over `redis-cli` in the pod on a cluster. */
export interface RedisAdmin {
  configGet(name: string): Promise<string>;
  configSet(name: string, value: string): Promise<void>;
  /** BGREWRITEAOF's reply (or throws with Redis's error). */
  bgrewriteaof(): Promise<string>;
  /** `INFO <section>` as text. */
  info(section: string): Promise<string>;
}

export class BackupError extends Error {}

/** `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export interface QuiesceOptions {
  /** How long the rewrite may take (a long history takes longer). */
  timeoutMs?: number;
  pollMs?: number;
  progress?: (line: string) => void;
}

export interface QuiesceResult<T> {
  result: T;
  /** INFO persistence after our rewrite finished, before `take` ran. */
  persistence: Record<string, string>;
}

import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Pauses automatic rewrites, runs one rewrite to its end, calls `take` (the copy or the
 * snapshot), and always sets auto-aof-rewrite-percentage back to what it was.
 */
export async function withAofQuiesced<T>(
  admin: RedisAdmin,
  take: () => Promise<T>,
  opts: QuiesceOptions = {},
): Promise<QuiesceResult<T>> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const pollMs = opts.pollMs ?? 200;
  const progress = opts.progress ?? (() => {});

  const before = parseInfo(await admin.info('persistence'));
  if (before.aof_enabled !== '1') {
    throw new BackupError(
      'Redis keeps no append-only file (aof_enabled:0): this is memory-only Redis, there is nothing on disk to back up',
    );
  }
  const previous = await admin.configGet('auto-aof-rewrite-percentage');
  await admin.configSet('auto-aof-rewrite-percentage', '0');
  try {
    const began = Date.now();
    const waitIdle = async (what: string) => {
      for (;;) {
        const info = parseInfo(await admin.info('persistence'));
        if (info.aof_rewrite_in_progress === '0' && info.aof_rewrite_scheduled === '0') return info;
        if (Date.now() - began > timeoutMs) {
          throw new BackupError(
            `${what}: Redis was still rewriting its append-only file after ${Math.round(timeoutMs / 1000)} s ` +
              `(aof_rewrite_in_progress:${info.aof_rewrite_in_progress}); nothing was backed up. Try again with a longer --timeout`,
          );
        }
        await sleep(pollMs);
      }
    };
    // A rewrite Redis started itself must end first: BGREWRITEAOF refuses to start during one.
    const idle = await waitIdle('before the backup');
    const rewritesBefore = Number(idle.aof_rewrites ?? '0');
    progress('rewriting the append-only file (BGREWRITEAOF) so the disk holds everything acknowledged so far');
    await admin.bgrewriteaof();
    let done: Record<string, string>;
    for (;;) {
      done = await waitIdle('the rewrite');
      if (Number(done.aof_rewrites ?? '0') > rewritesBefore) break;
      if (Date.now() - began > timeoutMs) {
        throw new BackupError(`the rewrite Redis was asked for did not run within ${Math.round(timeoutMs / 1000)} s`);
      }
      await sleep(pollMs);
    }
    if (done.aof_last_bgrewrite_status !== 'ok') {
      throw new BackupError(
        `Redis's rewrite of the append-only file failed (aof_last_bgrewrite_status:${done.aof_last_bgrewrite_status}); ` +
          'nothing was backed up. Is the volume full? See the Redis log',
      );
    }
    if (done.aof_last_write_status && done.aof_last_write_status !== 'ok') {
      throw new BackupError(
        `Redis cannot write its append-only file (aof_last_write_status:${done.aof_last_write_status}); nothing was backed up`,
      );
    }
    const result = await take();
    return { result, persistence: done };
  } finally {
    await admin.configSet('auto-aof-rewrite-percentage', previous);
  }
}
