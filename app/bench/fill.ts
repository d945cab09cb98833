import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { APPENDED_KEY, HISTORY_KEY, type ChatMessage } from '../src/chat-store';

/**
 * Writes messages straight into Redis, fast: pipelined batches of what ChatStore.append's
 * script does (INCR + RPUSH + LTRIM, here in MULTI/EXEC), the same bytes in the list and
 * the same commands in the AOF as real posts (Redis replicates a script's effects), minus the PUBLISH (nobody listens during a fill, and 100 000 published
 * messages would only keep the replicas' subscribers busy while we measure).
 */
export async function fillHistory(
  redisUrl: string,
  count: number,
  opts: { trimTo: number; batch?: number; offset?: number },
): Promise<number> {
  const began = performance.now();
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    const batch = opts.batch ?? 1000;
    const offset = opts.offset ?? 0;
    for (let done = 0; done < count;) {
      const n = Math.min(batch, count - done);
      const p = redis.pipeline();
      for (let i = 0; i < n; i++) {
        const seq = offset + done + i + 1;
        // Without run and position (which the append script adds): served as a message from before runs were recorded.
        const message: Omit<ChatMessage, 'run' | 'position'> = {
          id: randomUUID(),
          author: 'bench',
          text: `history message ${seq}: the quick brown fox jumps over the lazy dog`,
          at: new Date().toISOString(),
          replica: 'bench-fill',
        };
        const json = JSON.stringify(message);
        // Raw MULTI/EXEC inside the pipeline: one transaction per message, like append()'s script.
        p.call('MULTI').incr(APPENDED_KEY).rpush(HISTORY_KEY, json).ltrim(HISTORY_KEY, -opts.trimTo, -1).call('EXEC');
      }
      const results = await p.exec();
      const failed = results?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
      done += n;
    }
  } finally {
    await redis.quit();
  }
  return performance.now() - began;
}

export async function historyLength(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    return await redis.llen(HISTORY_KEY);
  } finally {
    await redis.quit();
  }
}

/** Empties the history list (the warm-up's messages are not part of any step). */
export async function clearHistory(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  try {
    await redis.del(HISTORY_KEY);
  } finally {
    await redis.quit();
  }
}
