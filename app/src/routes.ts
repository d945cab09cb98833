import express, { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { ChatStore } from './chat-store';
import { HttpError, REDIS_UNAVAILABLE, needsRedis } from './errors';
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
}

export const MAX_BODY = '16kb';

/** 415 unless the body is declared JSON (checked before reading it). */
const requireJson: RequestHandler = (req, _res, next) => {
  next(req.is('application/json') ? undefined : new HttpError(415, 'Content-Type must be application/json'));
};

/**
 * Posts per minute per client IP (req.ip, so behind a proxy it depends on TRUST_PROXY),
 * in this replica's memory. Behind a load balancer that spreads connections over N
 * replicas a client gets up to N times the limit; the limit is there to stop a
 * runaway script, not to meter anyone exactly.
 */
function postLimiter(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Which client address counts is TRUST_PROXY's decision (README); no console warnings about it.
    validate: { xForwardedForHeader: false, trustProxy: false },
    handler: (_req, _res, next) =>
      next(new HttpError(429, `too many messages: at most ${perMinute} per minute; try again shortly`)),
  });
}

/** The chat API. Full paths here (mounted at the root) so metrics label routes as clients see them. */
export function apiRouter(deps: ApiDeps): Router {
  const { store, redis, feed, metrics, replicaName } = deps;
  const router = Router();

  router.get('/api/messages', async (req, res) => {
    const limit = parseLimit(req.query.limit, store.historyLimit);
    const messages = await needsRedis(() => store.recent(limit));
    res.json({ messages });
  });

  router.post(
    '/api/messages',
    postLimiter(deps.rateLimitPerMin),
    requireJson,
    express.json({ limit: MAX_BODY, strict: true }),
    async (req, res) => {
      const input = parseNewMessage(req.body);
      const message = await needsRedis(() => store.append(input, replicaName));
      metrics.messagesStored.inc();
      res.status(201).json(message);
    },
  );

  router.get('/api/events', (req, res) => {
    if (!feed.live) throw new HttpError(503, REDIS_UNAVAILABLE);
    feed.attach(req, res);
  });

  // Always 200: the page shows what this replica sees, including "Redis is down".
  router.get('/api/status', async (_req, res) => {
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
    res.json({ replica: replicaName, historyLimit: store.historyLimit, redis: redisStatus });
  });

  return router;
}
