import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { pinoHttp } from 'pino-http';
import type { ChatStore } from './chat-store';
import { errorHandler, notFound } from './errors';
import { healthRouter } from './health';
import type { LiveFeed } from './live-feed';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { apiRouter } from './routes';

export interface AppDeps {
  store: ChatStore;
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  logger: Logger;
  replicaName: string;
  rateLimitPerMin: number;
  trustProxy: boolean | number | string;
  publicDir: string;
  stopping(): boolean;
}

/** Probes are polled every few seconds; logging each would drown the useful lines. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The Express application: middleware composed here, and only here. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Which X-Forwarded-For entries to believe for req.ip (the rate limit's key).
  app.set('trust proxy', deps.trustProxy);

  app.use(
    pinoHttp({
      logger: deps.logger,
      autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]) },
      // 503 is Redis being away (expected during the experiment), 4xx a client's mistake.
      customLogLevel: (_req, res, err) =>
        res.statusCode === 503 || (res.statusCode >= 400 && res.statusCode < 500) ? 'warn' : err || res.statusCode >= 500 ? 'error' : 'info',
      serializers: {
        req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(deps.metrics.middleware());
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          // No upgrade-insecure-requests: the load balancer serves plain HTTP on port 80,
          // and upgrading the page's requests to https would break it.
        },
      },
      // Likewise HSTS is meaningless without TLS and would pin a future TLS setup.
      strictTransportSecurity: false,
    }),
  );
  app.use(replicaHeader(deps.replicaName, deps.stopping));

  app.use(healthRouter(deps));
  app.use(apiRouter(deps));
  app.use(express.static(deps.publicDir, { index: 'index.html', maxAge: 0 }));

  app.use(notFound);
  app.use(errorHandler());
  return app;
}

/** Names the replica on every response (handy behind a load balancer), and closes keep-alive connections while stopping. */
function replicaHeader(replica: string, stopping: () => boolean): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Replica', replica);
    if (stopping()) res.setHeader('Connection', 'close');
    next();
  };
}
