import type { IRouter } from 'express';
import type { Redis } from 'ioredis';
import type { LiveFeed } from './live-feed';
import type { Metrics } from './metrics';
import { methodNotAllowed } from './errors';
import { isReady } from './redis';
import { isDiskError } from './redis-status';

export interface HealthDeps {
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  /** True once shutdown began: stop taking traffic. */
  stopping: () => boolean;
}

/**
 * Probes and metrics, mounted before any other middleware (app.ts): they are polled
 * every few seconds and need no logging, security headers or body parsing.
 * - /healthz (liveness): 200 while the process can answer; a Redis outage must not
 *   make Kubernetes restart healthy replicas.
 * - /readyz (readiness): 200 only while Redis answers PING and the live feed is
 *   subscribed, so the load balancer sends browsers only to replicas that work.
 *   A Redis that cannot write to its disk refuses PING too (MISCONF), but it still
 *   serves reads and the live feed: the replica stays ready, so the page can show the
 *   history and say why sending fails, instead of every replica leaving the load
 *   balancer at once and the whole chat going dark. The answer then says writes are refused.
 */
export function healthRoutes(router: IRouter, { redis, feed, metrics, stopping }: HealthDeps): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    let reason: string | undefined;
    let writes: string | undefined;
    if (stopping()) reason = 'shutting down';
    else if (!isReady(redis)) reason = 'redis: not connected';
    else {
      try {
        await redis.ping();
      } catch (err) {
        if (isDiskError(err)) writes = `refused: Redis cannot write to its disk (${(err as Error).message})`;
        else reason = `redis: ${(err as Error).message}`;
      }
      if (!reason && !feed.live) reason = 'live feed: not subscribed';
    }
    if (reason) res.status(503).json({ status: 'unavailable', error: reason });
    else res.json(writes ? { status: 'ready', writes } : { status: 'ready' });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });

  for (const path of ['/healthz', '/readyz', '/metrics']) router.all(path, methodNotAllowed(['GET', 'HEAD']));
}
