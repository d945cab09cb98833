import type { IRouter } from 'express';
import type { Redis } from 'ioredis';
import type { LiveFeed } from './live-feed';
import type { Metrics } from './metrics';
import { isReady } from './redis';

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
 */
export function healthRoutes(router: IRouter, { redis, feed, metrics, stopping }: HealthDeps): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    let reason: string | undefined;
    if (stopping()) reason = 'shutting down';
    else if (!isReady(redis)) reason = 'redis: not connected';
    else {
      try {
        await redis.ping();
        if (!feed.live) reason = 'live feed: not subscribed';
      } catch (err) {
        reason = `redis: ${(err as Error).message}`;
      }
    }
    if (reason) res.status(503).json({ status: 'unavailable', error: reason });
    else res.json({ status: 'ready' });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });
}
