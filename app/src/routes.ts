import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { ChatStore } from './chat-store';
import { HttpError, MAX_BODY_BYTES, NOT_JSON, REDIS_UNAVAILABLE, needsRedis } from './errors';
import type { LiveFeed } from './live-feed';
import type { Metrics } from './metrics';
import { isReady } from './redis';
import { readRedisFacts } from './redis-status';
import { parseLimit, parseNewMessage } from './validation';

export interface ApiDeps {
  store: ChatStore;
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  replicaName: string;
  rateLimitPerMin: number;
  /** Records a live-feed stream when it closes (Fastify does not see hijacked replies finish). */
  streamClosed(request: FastifyRequest, status: number, elapsedMs: number): void;
}

/** 415 unless the body is declared JSON, checked before a byte of it is read. */
async function requireJson(request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, NOT_JSON);
}

/**
 * Posts per minute per client IP (request.ip, so behind a proxy it depends on
 * TRUST_PROXY), in this replica's memory (@fastify/rate-limit, registered in app.ts).
 * Behind a load balancer that spreads connections over N replicas a client gets up to
 * N times the limit; the limit is there to stop a runaway script, not to meter anyone exactly.
 */
function postLimit(perMinute: number): RouteShorthandOptions['config'] {
  if (perMinute === 0) return {};
  return {
    rateLimit: {
      max: perMinute,
      timeWindow: 60_000,
      errorResponseBuilder: () => new HttpError(429, `too many messages: at most ${perMinute} per minute; try again shortly`),
    },
  };
}

/** The chat API. */
export function apiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { store, redis, feed, replicaName } = deps;

  app.get<{ Querystring: { limit?: unknown } }>('/api/messages', async (request, reply) => {
    const limit = parseLimit(request.query.limit, store.historyLimit);
    const messages = await needsRedis(() => store.recentJson(limit));
    return reply.type('application/json; charset=utf-8').send(`{"messages":${messages}}`);
  });

  app.post(
    '/api/messages',
    { bodyLimit: MAX_BODY_BYTES, onRequest: requireJson, config: postLimit(deps.rateLimitPerMin) },
    async (request, reply) => {
      const input = parseNewMessage(request.body);
      const message = await needsRedis(() => store.append(input, replicaName));
      deps.metrics.messagesStored.inc();
      return reply.code(201).send(message);
    },
  );

  app.get('/api/events', (request, reply) => {
    if (!feed.live) throw new HttpError(503, REDIS_UNAVAILABLE);
    // The stream outlives the handler: the live feed writes to the raw response from now on.
    reply.hijack();
    feed.attach(request.raw, reply.raw);
    const opened = performance.now();
    reply.raw.once('close', () => deps.streamClosed(request, reply.raw.statusCode, performance.now() - opened));
  });

  // Always 200: the page shows what this replica sees, including "Redis is down".
  app.get('/api/status', async () => {
    const redisStatus = {
      connected: false,
      persistence: null as 'memory' | 'aof' | null,
      uptimeSeconds: null as number | null,
      runId: null as string | null,
      messages: null as number | null,
    };
    if (isReady(redis)) {
      try {
        const [facts, messages] = await Promise.all([readRedisFacts(redis), store.count()]);
        Object.assign(redisStatus, { connected: true, ...facts, messages });
      } catch {
        // Lost between the check and the reply: report it as down.
      }
    }
    return { replica: replicaName, historyLimit: store.historyLimit, redis: redisStatus };
  });
}
