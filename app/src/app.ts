import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import helmet from 'helmet';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { ChatStore } from './chat-store';
import { errorHandler, MAX_BODY_BYTES, notFound } from './errors';
import { healthRoutes } from './health';
import type { LiveFeed } from './live-feed';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { responseObserver } from './observe';
import { apiRoutes } from './routes';

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

/**
 * The HTTP application (Fastify): hooks, plugins and routes composed here, and only here.
 * Fastify rather than Express because the framework is most of a POST's cost: Express 5
 * alone took more CPU per request than the whole bare server does (README, "Performance").
 */
export function createApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One line per request, written by the response observer below (Fastify's own are two).
    logController: new LogController({ disableRequestLogging: true }),
    // Which X-Forwarded-For entries to believe for request.ip (the rate limit's key).
    trustProxy: trustProxyOption(deps.trustProxy),
    bodyLimit: MAX_BODY_BYTES,
    // A message with a "__proto__" key loses that key, like any other unknown field.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // A client must finish sending its request within a minute (slowloris); live-feed
    // streams are responses, which this does not limit.
    requestTimeout: 60_000,
    // Shutdown is ours (service.ts): in-flight keep-alive requests are answered, with Connection: close.
    return503OnClosing: false,
  });
  const observe = responseObserver(deps.metrics);
  // helmet itself, built once: @fastify/helmet rebuilds it on every request (for
  // per-route options), which cost 8% of a replica's CPU under load.
  const securityHeaders = helmet({
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
  });

  // Raw headers, so that live-feed streams (hijacked replies) carry them too.
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.setHeader('X-Replica', deps.replicaName);
    if (deps.stopping()) reply.raw.setHeader('Connection', 'close');
    securityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined));
  });
  app.addHook('onResponse', (request, reply, done) => {
    observe(request, reply.statusCode, reply.elapsedTime);
    done();
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFound);

  // Limits only the routes that ask for it (POST /api/messages, see routes.ts).
  app.register(rateLimit, { global: false, enableDraftSpec: true });

  app.register(async (scope) => healthRoutes(scope, deps));
  app.register(async (scope) => apiRoutes(scope, { ...deps, streamClosed: observe }));
  app.register(fastifyStatic, { root: deps.publicDir, index: 'index.html', maxAge: 0 });
  return app;
}

/**
 * TRUST_PROXY as Express defines it. Fastify reads a bare hop count as "trust nothing"
 * (it cannot check who the peer is); here N means what it means in Express: trust the
 * N hops nearest this server, as behind the DigitalOcean load balancer (one hop).
 */
function trustProxyOption(value: boolean | number | string): boolean | string | ((addr: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_addr, hop) => hop < value : value;
}
