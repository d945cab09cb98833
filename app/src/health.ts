import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { LiveFeed } from './live-feed';
import type { Metrics } from './metrics';
import { isReady } from './redis';

export interface HealthDeps {
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  /** True once shutdown began: stop taking traffic. */
  stopping(): boolean;
}

/**
 * Probes and metrics.
 * - /healthz (liveness): 200 while the process can answer; a Redis outage must not
 *   make Kubernetes restart healthy replicas.
 * - /readyz (readiness): 200 only while Redis answers PING and the live feed is
 *   subscribed, so the load balancer sends browsers only to replicas that work.
 */
export function healthRoutes(app: FastifyInstance, { redis, feed, metrics, stopping }: HealthDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
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
    if (reason) return reply.code(503).send({ status: 'unavailable', error: reason });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
}
