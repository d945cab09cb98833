import express, { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { ChatStore } from './chat-store';
import { HttpError, MAX_BODY_BYTES, NOT_AN_OBJECT, NOT_JSON, REDIS_UNAVAILABLE, needsRedis } from './errors';
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

/**
 * 415 unless the body is declared JSON, checked before a byte of it is read; an empty
 * body is not a message (body-parser would read it as `{}`).
 */
const requireJson: RequestHandler = (req, _res, next) => {
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') next(new HttpError(415, NOT_JSON));
  else if (req.headers['content-length'] === '0') next(new HttpError(400, NOT_AN_OBJECT));
  else next();
};

/** body-parser's JSON reader: objects and arrays only (strict), at most 16 KB, declared JSON only. */
const readJson = express.json({ limit: MAX_BODY_BYTES, strict: true, type: 'application/json' });

/**
 * Posts per minute per client IP (req.ip, so behind a proxy it depends on TRUST_PROXY),
 * in this replica's memory. Behind a load balancer that spreads connections over N
 * replicas a client gets up to N times the limit; the limit is there to stop a
 * runaway script, not to meter anyone exactly.
 */
function postLimit(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    // RateLimit and RateLimit-Policy headers (IETF draft 8), and Retry-After on a 429.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // express-rate-limit 8's default, named: IPv6 clients are counted per /56.
    ipv6Subnet: 56,
    // Which client address counts is TRUST_PROXY's decision (README); no console warnings about it.
    validate: { xForwardedForHeader: false, trustProxy: false },
    handler: (_req, _res, next) => next(new HttpError(429, `too many messages: at most ${perMinute} per minute; try again shortly`)),
  });
}

/** The chat API. Full paths here (mounted at the root) so metrics label routes as clients see them. */
export function apiRouter(deps: ApiDeps): Router {
  const { store, redis, feed, metrics, replicaName } = deps;
  const router = Router();

  router.get('/api/messages', async (req, res) => {
    const limit = parseLimit(req.query.limit, store.historyLimit);
    const messages = await needsRedis(() => store.recentJson(limit));
    res.type('application/json; charset=utf-8').send(`{"messages":${messages}}`);
  });

  router.post('/api/messages', postLimit(deps.rateLimitPerMin), requireJson, readJson, async (req, res) => {
    const input = parseNewMessage(req.body);
    const message = await needsRedis(() => store.append(input, replicaName));
    metrics.messagesStored.inc();
    res.status(201).json(message);
  });

  router.get('/api/events', (req, res) => {
    if (!feed.live) throw new HttpError(503, REDIS_UNAVAILABLE);
    // From here the live feed writes to the response; it is recorded when it closes.
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
