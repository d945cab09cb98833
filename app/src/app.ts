import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { ChatStore } from './chat-store';
import { errorHandler, notFound } from './errors';
import { healthRoutes } from './health';
import type { LiveFeed } from './live-feed';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { responseObserver } from './observe';
import { apiRoutes } from './routes';
import { UnsentBudget, type UnsentBudgetOptions } from './unsent-budget';

export interface AppDeps {
  store: ChatStore;
  redis: Redis;
  feed: LiveFeed;
  metrics: Metrics;
  logger: Logger;
  replicaName: string;
  rateLimitPerMin: number;
  trustProxy: boolean | number | string;
  /** Browsers reach the chat only over HTTPS (HTTPS_ONLY). */
  httpsOnly: boolean;
  publicDir: string;
  stopping: () => boolean;
  /** Bounds on history responses that clients do not take (default UNSENT_BUDGET_DEFAULTS). */
  unsentBudget?: UnsentBudgetOptions;
}

/**
 * The HTTP application (Express 5): middleware composed here, and only here, in the
 * order a request meets it. Probes come first and carry nothing else (they are polled
 * every few seconds); the page's static files come last, after the API.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  // Settings named explicitly, since defaults change between majors:
  app.disable('x-powered-by');
  // No ETags: the API's answers change with every message, and hashing each body cost
  // CPU on every response (express.static keeps its own ETags for the page's files).
  app.set('etag', false);
  // The API reads one flat `?limit=`; 'simple' (node:querystring) is Express 5's default.
  app.set('query parser', 'simple');
  // Which X-Forwarded-For entries to believe for req.ip (the rate limit's key).
  app.set('trust proxy', deps.trustProxy);

  healthRoutes(app, deps);

  app.use(responseObserver(deps.metrics, deps.logger));
  app.use(securityHeaders(deps.httpsOnly));
  app.use(replicaHeader(deps.replicaName, deps.stopping));

  apiRoutes(app, { ...deps, unsent: new UnsentBudget(deps.unsentBudget) });
  app.use(express.static(deps.publicDir, { index: 'index.html', maxAge: 0 }));

  app.use(notFound);
  app.use(errorHandler);
  return app;
}

/**
 * helmet, built once (its options are parsed when it is built, not per request).
 * HSTS and upgrade-insecure-requests only behind HTTPS: on the plain-HTTP load balancer
 * (no chat:domain) upgrading the page's requests would break it, and HSTS would pin a
 * TLS setup that does not exist.
 */
function securityHeaders(httpsOnly: boolean): RequestHandler {
  return helmet({
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
        ...(httpsOnly ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    // One year (helmet's own default, named); only this name, since the program owns no
    // other name in the zone; no preload list, which is hard to leave.
    strictTransportSecurity: httpsOnly
      ? { maxAge: 365 * 24 * 60 * 60, includeSubDomains: false, preload: false }
      : false,
  });
}

/** Names the replica on every response (handy behind a load balancer), and closes keep-alive connections while stopping. */
function replicaHeader(replica: string, stopping: () => boolean): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Replica', replica);
    if (stopping()) res.setHeader('Connection', 'close');
    next();
  };
}
