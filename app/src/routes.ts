import express, { type IRouter, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { CursorFromAnotherRun, type ChatStore, type RunFacts } from './chat-store';
import { clientKey } from './client-address';
import {
  CURSOR_FROM_ANOTHER_RUN,
  HttpError,
  MAX_BODY_BYTES,
  NOT_AN_OBJECT,
  NOT_JSON,
  methodNotAllowed,
  needsRedis,
} from './errors';
import type { LiveFeed } from './live-feed';
import type { Metrics } from './metrics';
import { isReady } from './redis';
import type { UnsentBudget } from './unsent-budget';
import { PAGE_MAX_BYTES, parseHistoryQuery, parseIdempotencyKey, parseNewMessage } from './validation';

export interface ApiDeps {
  store: ChatStore;
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  replicaName: string;
  rateLimitPerMin: number;
  /** What history responses that clients have not taken may hold. */
  unsent: UnsentBudget;
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
 * Posts per minute per client IP (clientKey: behind a proxy it depends on TRUST_PROXY),
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
    // Only a real IP address is a key; IPv6 clients are counted per /56 (clientKey).
    keyGenerator: clientKey,
    // Which client address counts is TRUST_PROXY's decision (app/README.md); no console warnings about it.
    validate: { xForwardedForHeader: false, trustProxy: false },
    handler: (_req, _res, next) =>
      next(new HttpError(429, `too many messages: at most ${perMinute} per minute; try again shortly`)),
  });
}

/** The chat API, registered on the app itself (no router layer per request); full paths, as metrics label them. */
export function apiRoutes(router: IRouter, deps: ApiDeps): void {
  const { store, redis, feed, metrics, replicaName } = deps;

  /**
   * One page of history: `{"messages": [...], "before": cursor | null, "oldest": position,
   * "redis": facts}`, oldest first, at most ?limit= messages and PAGE_MAX_BYTES; `before`
   * fetches the page before it. The facts of the Redis run that served it come in the same
   * answer, read in the same script as the messages, so a page can judge a restart from
   * one response whichever replica answers. A cursor from another run is a 410.
   */
  router.get('/api/messages', async (req, res) => {
    const query = parseHistoryQuery(req.query);
    let page;
    try {
      page = await needsRedis(() => store.page({ ...query, maxBytes: PAGE_MAX_BYTES }));
    } catch (err) {
      if (err instanceof HttpError && err.cause instanceof CursorFromAnotherRun)
        throw new HttpError(410, CURSOR_FROM_ANOTHER_RUN);
      throw err;
    }
    deps.unsent.sendJson(
      res,
      `{"messages":${page.json},"before":${page.before === null ? 'null' : `"${page.before}"`},"oldest":${page.oldest},"redis":${JSON.stringify(page.facts)}}`,
    );
  });

  /**
   * Stores a message. With an Idempotency-Key, a repeat within the window stores
   * nothing and answers with what the key first stored (Idempotent-Replayed: true);
   * the same key with another message is a 422.
   */
  router.post('/api/messages', postLimit(deps.rateLimitPerMin), requireJson, readJson, async (req, res) => {
    const input = parseNewMessage(req.body);
    const key = parseIdempotencyKey(req.get('idempotency-key'));
    if (key === undefined) {
      const message = await needsRedis(() => store.append(input, replicaName), { writes: true });
      metrics.messagesStored.inc();
      res.status(201).json(message);
      return;
    }
    const { message, replayed } = await needsRedis(() => store.appendOnce(input, replicaName, key), { writes: true });
    if (!replayed) metrics.messagesStored.inc();
    else if (message.author !== input.author || message.text !== input.text) {
      throw new HttpError(
        422,
        'this Idempotency-Key was already used for a different message; use a new key for a new message',
      );
    } else res.set('Idempotent-Replayed', 'true');
    res.status(201).json(message);
  });
  router.all('/api/messages', methodNotAllowed(['GET', 'HEAD', 'POST']));

  // Headers only, at once, without a stream (a stream's HEAD would hold a slot and never end).
  router.head('/api/events', (_req, res) => {
    res
      .status(feed.live ? 200 : 503)
      .set(feed.headers)
      .end();
  });
  router.get('/api/events', (req, res, next) => {
    // From here the live feed writes to the response, or refuses it (with a 503 HttpError
    // passed to next) when Redis is away or over a cap; it is recorded when it closes.
    feed.attach(req, res, next);
  });
  router.all('/api/events', methodNotAllowed(['GET', 'HEAD']));

  // Always 200: the page shows what this replica sees, including "Redis is down".
  router.get('/api/status', async (_req, res) => {
    const redisStatus = {
      connected: false,
      persistence: null as RunFacts['persistence'] | null,
      snapshotSeconds: null as number | null,
      managed: null as boolean | null,
      uptimeSeconds: null as number | null,
      runId: null as string | null,
      startPosition: null as number | null,
      runs: null as RunFacts['runs'] | null,
      writable: null as boolean | null,
      messages: null as number | null,
    };
    if (isReady(redis)) {
      try {
        Object.assign(redisStatus, { connected: true, ...(await store.facts()) });
      } catch {
        // Lost between the check and the reply: report it as down.
      }
    }
    const liveFeed = {
      streams: feed.clients,
      maxStreams: feed.maxStreams,
      maxStreamsPerClient: feed.maxStreamsPerClient,
    };
    res.json({ replica: replicaName, historyLimit: store.historyLimit, redis: redisStatus, liveFeed });
  });
  router.all('/api/status', methodNotAllowed(['GET', 'HEAD']));
}
