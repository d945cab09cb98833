import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from './app';
import { ChatStore, MESSAGES_CHANNEL } from './chat-store';
import type { ServiceConfig } from './config';
import { LiveFeed } from './live-feed';
import { createLogger, type Logger } from './logger';
import { Metrics } from './metrics';
import { findPublicDir } from './public-dir';
import { closeRedis, createRedis, isReady } from './redis';
import type { UnsentBudgetOptions } from './unsent-budget';

export interface ServiceOptions {
  /** Defaults to a JSON logger on stdout at config.logLevel. */
  logger?: Logger;
  /** Directory of the page's files; found automatically by default. */
  publicDir?: string;
  /** Live-feed keep-alive interval (default 15 s). */
  heartbeatMs?: number;
  /** How long start waits for a first Redis connection before serving anyway (default 3 s). */
  redisWaitMs?: number;
  /** How long close() lets in-flight requests finish before cutting connections (default 8 s). */
  drainMs?: number;
  /** Bounds on history responses that clients do not take (tests make them small). */
  unsentBudget?: UnsentBudgetOptions;
}

export interface RunningService {
  /** http://127.0.0.1:PORT when bound to all interfaces. */
  url: string;
  port: number;
  /** Graceful stop: stop accepting, end live-feed streams, finish in-flight requests, close Redis. */
  close(): Promise<void>;
}

/**
 * Starts one chat replica in this process. It serves even while Redis is down
 * (then /readyz says 503 and Redis-backed requests answer 503), because in
 * Kubernetes the chat pods may well start before Redis does.
 */
export async function startService(config: ServiceConfig, opts: ServiceOptions = {}): Promise<RunningService> {
  const logger = opts.logger ?? createLogger(config.logLevel, config.replicaName);
  const publicDir = opts.publicDir ?? findPublicDir();

  const redis = createRedis(config, 'command', logger);
  const subscriber = createRedis(config, 'subscriber', logger);
  const store = new ChatStore(redis, { historyLimit: config.historyLimit });
  const limits = { maxStreams: config.maxLiveStreams, maxStreamsPerClient: config.maxStreamsPerClient };
  const metrics = new Metrics(
    { liveClients: () => feed.clients, redisConnected: () => isReady(redis), liveFeedLimits: limits },
    { replica: config.replicaName },
  );
  const feed = new LiveFeed(subscriber, {
    channel: MESSAGES_CHANNEL,
    replica: config.replicaName,
    logger,
    ...limits,
    onRefused: (reason) => metrics.liveFeedRefused.inc({ reason }),
    onDropped: () => metrics.liveFeedDropped.inc(),
    onFlush: (seconds) => metrics.liveFeedFlush.observe(seconds),
    heartbeatMs: opts.heartbeatMs,
  });
  let stopping = false;
  const app = createApp({
    store,
    redis,
    feed,
    metrics,
    logger,
    replicaName: config.replicaName,
    rateLimitPerMin: config.rateLimitPerMin,
    trustProxy: config.trustProxy,
    httpsOnly: config.httpsOnly,
    publicDir,
    stopping: () => stopping,
    unsentBudget: opts.unsentBudget,
  });

  await waitUntil(() => isReady(redis) && feed.live, opts.redisWaitMs ?? 3000);
  if (!isReady(redis))
    logger.warn({ redisUrl: redactUrl(config.redisUrl) }, 'Redis is not reachable yet; serving 503 until it is');

  const server = http.createServer(app);
  // A client must finish sending its request within a minute (slowloris); live-feed
  // streams are responses, which this does not limit. (Node's own default is 5 minutes.)
  server.requestTimeout = 60_000;
  server.headersTimeout = 60_000;
  // Responses not yet started, so that a drain can close their connections after them.
  const unanswered = new Set<http.ServerResponse>();
  server.prependListener('request', (_req, res: http.ServerResponse) => {
    // Once stopping, a request that arrives on a kept-alive connection is answered and the
    // connection closed after it.
    if (stopping) res.setHeader('Connection', 'close');
    unanswered.add(res);
    const done = () => unanswered.delete(res);
    res.once('finish', done);
    res.once('close', done);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    feed.close();
    await Promise.all([closeRedis(redis), closeRedis(subscriber)]);
    throw err;
  }

  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(config.host)}:${port}`;
  logger.info(
    { url, host: config.host, port, redisUrl: redactUrl(config.redisUrl), historyLimit: config.historyLimit },
    'chat replica listening',
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopping = true;
      // Stop listening; close() resolves once the requests in flight are answered and their
      // connections closed.
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      feed.close();
      // Keep-alive connections with no request in flight would hold close() open, and so
      // would those whose request is in flight now once it is answered: each of those
      // responses closes its connection instead (Connection: close, unless already sent).
      server.closeIdleConnections();
      for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.drainMs ?? 8000)));
      await Promise.race([drained, deadline]);
      clearTimeout(timer);
      server.closeAllConnections();
      await Promise.all([closeRedis(redis), closeRedis(subscriber)]);
      logger.info('chat replica stopped');
    })());

  return { url, port, close };
}

/** Resolves when `ready()` holds or after `ms`, whichever is first. */
async function waitUntil(ready: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!ready() && Date.now() < until) await sleep(20);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The Redis URL without its password, for logs. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
