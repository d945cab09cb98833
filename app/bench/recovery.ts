import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest } from '../local/http';
import type { LocalStack } from '../local/stack';
import { fillHistory, historyLength } from './fill';

/**
 * Recovery: Redis (persistent plan, AOF, appendfsync everysec) holding N messages is
 * killed with SIGKILL and replaced on the same data directory, as
 * `kubectl delete pod -l app=redis` does; we time from the kill until the service
 * answers again: GET /readyz 200 and then GET /api/messages 200.
 *
 * "Holding N messages" is taken literally: the list holds all N (written in
 * ChatStore's INCR + RPUSH + LTRIM shape, trimmed at N rather than at the service's
 * history limit, which cannot exceed 10 000), so Redis must load N messages from the
 * AOF before it answers. After recovery we check that all N came back.
 *
 * Two figures: `firstMs`, the first replica answering; `allMs`, every replica answering
 * (as many good answers in a row as there are replicas, each on a new connection,
 * so round-robin spreads them) — the headline, since the load balancer sends users
 * to every replica.
 */
export interface RecoveryResult {
  held: number;
  aofMb: number;
  firstMs: number;
  allMs: number;
  redisRestartMs: number;
  aofLoaded: boolean;
  recovered: number;
}

const POLL_MS = 10;
const GIVE_UP_MS = 30_000;

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

async function answers(url: string): Promise<boolean> {
  try {
    const ready = await httpRequest(`${url}/readyz`, { timeoutMs: 1000 });
    if (ready.status !== 200) return false;
    const history = await httpRequest(`${url}/api/messages?limit=10`, { timeoutMs: 1000 });
    return history.status === 200;
  } catch {
    return false;
  }
}

export async function measureRecovery(
  stack: LocalStack,
  url: string,
  opts: { held: number[]; onProgress?: (what: string) => void },
): Promise<RecoveryResult[]> {
  const out: RecoveryResult[] = [];
  let written = await historyLength(stack.redis.url);
  for (const held of opts.held) {
    opts.onProgress?.(`recovery: writing ${held.toLocaleString('en')} messages into the AOF`);
    await fillHistory(stack.redis.url, held - written, { trimTo: held, offset: written });
    written = held;
    // appendfsync everysec: give Redis its second to fsync, so the kill tests loading, not loss.
    await sleep(1100);
    const aofMb = dirBytes(path.join(stack.redisDir, 'appendonlydir')) / 1e6;

    opts.onProgress?.(`recovery: SIGKILL Redis holding ${held.toLocaleString('en')} messages`);
    const oldPid = stack.redis.pid;
    const began = performance.now();
    const replaced = stack.killRedis(); // sends SIGKILL synchronously, then starts the replacement
    // Poll only once the old Redis is gone, so no answer from before the kill counts.
    while (stack.redis.running && stack.redis.pid === oldPid) await sleep(1);
    let firstMs: number | undefined;
    let streak = 0;
    while (streak < stack.replicas) {
      if (performance.now() - began > GIVE_UP_MS)
        throw new Error(`the service did not answer within ${GIVE_UP_MS} ms of the Redis kill`);
      if (await answers(url)) {
        streak++;
        firstMs ??= performance.now() - began;
      } else {
        streak = 0;
        await sleep(POLL_MS);
      }
    }
    const allMs = performance.now() - began;
    const { redisRecoveryMs, aofLoaded } = await replaced;
    const recovered = await historyLength(stack.redis.url);
    out.push({
      held,
      aofMb: Math.round(aofMb * 10) / 10,
      firstMs: Math.round(firstMs!),
      allMs: Math.round(allMs),
      redisRestartMs: redisRecoveryMs,
      aofLoaded,
      recovered,
    });
  }
  return out;
}
