/**
 * `npm run bench -- --append`: what one message costs Redis and the client, appended the
 * way the service does it (one Lua script: INCR + RPUSH + LTRIM + PUBLISH, with an
 * Idempotency-Key's SET EX as the page sends one) against the MULTI/EXEC transaction it
 * replaced (RPUSH + LTRIM + PUBLISH), on one persistent Redis (AOF, everysec), rounds
 * interleaved. Reports appends per second at 64 in flight and Redis's CPU per append.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisPlan } from '../../infra/persistence';
import { RedisServer } from '../local/redis-server';
import { ChatStore, HISTORY_KEY, MESSAGES_CHANNEL } from '../src/chat-store';

export interface AppendRow {
  way: string;
  appendsPerSec: number;
  redisCpuUsPerAppend: number;
}

const MESSAGE = { author: 'bench', text: 'Hello from the benchmark: a chat line of ordinary length.' };

/** The transaction the service used before the script, kept here as the yardstick. */
async function multiAppend(redis: Redis): Promise<void> {
  const json = JSON.stringify({ id: randomUUID(), ...MESSAGE, at: new Date().toISOString(), replica: 'bench' });
  await redis.multi().rpush(HISTORY_KEY, json).ltrim(HISTORY_KEY, -100, -1).publish(MESSAGES_CHANNEL, json).exec();
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

async function round(
  redis: Redis,
  append: () => Promise<unknown>,
  seconds: number,
): Promise<{ n: number; ms: number; cpu: number }> {
  const cpu0 = await redisCpuSeconds(redis);
  const start = performance.now();
  const until = start + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await append();
        n++;
      }
    }),
  );
  const ms = performance.now() - start;
  return { n, ms, cpu: (await redisCpuSeconds(redis)) - cpu0 };
}

export async function measureAppend(opts: {
  rounds: number;
  seconds: number;
  onProgress(what: string): void;
}): Promise<AppendRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doks-chat-bench-append-'));
  const server = new RedisServer({ plan: redisPlan(true, 'everysec'), dir });
  await server.start();
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    const store = new ChatStore(redis, { historyLimit: 100 });
    const ways: Array<[string, () => Promise<unknown>]> = [
      ['MULTI/EXEC (before)', () => multiAppend(redis)],
      ['script, no key', () => store.append(MESSAGE, 'bench')],
      ['script with Idempotency-Key', () => store.appendOnce(MESSAGE, 'bench', randomUUID())],
    ];
    const totals = ways.map(() => ({ n: 0, ms: 0, cpu: 0 }));
    for (const [, append] of ways) await round(redis, append, 1); // warm-up
    for (let r = 1; r <= opts.rounds; r++) {
      for (const [i, [way, append]] of ways.entries()) {
        opts.onProgress(`append: ${way}, round ${r}/${opts.rounds}`);
        const x = await round(redis, append, opts.seconds);
        totals[i].n += x.n;
        totals[i].ms += x.ms;
        totals[i].cpu += x.cpu;
      }
    }
    return ways.map(([way], i) => ({
      way,
      appendsPerSec: Math.round((totals[i].n * 1000) / totals[i].ms),
      redisCpuUsPerAppend: Math.round((totals[i].cpu * 1e6 * 100) / totals[i].n) / 100,
    }));
  } finally {
    redis.disconnect();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function renderAppend(rows: AppendRow[]): string {
  const lines = rows.map(
    (r) =>
      `${r.way.padEnd(30)} ${String(r.appendsPerSec).padStart(8)} appends/s  ${r.redisCpuUsPerAppend.toFixed(2).padStart(7)} µs Redis CPU per append`,
  );
  return ['appends against one Redis (AOF everysec), 64 in flight, rounds interleaved', ...lines].join('\n');
}
