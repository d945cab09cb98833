import type { FastifyRequest } from 'fastify';
import type { Metrics } from './metrics';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error this request failed with, for its log line (set by the error handler). */
    failure?: unknown;
  }
}

/** Probes are polled every few seconds; logging each would drown the useful lines. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The route label of a response: its route pattern, so metrics stay bounded whatever URLs clients try. */
function routeLabel(request: FastifyRequest, status: number): string {
  const pattern = request.routeOptions.url;
  if (pattern === undefined || status === 404) return '(unmatched)';
  // @fastify/static serves the page's files from one wildcard route.
  return pattern === '/*' ? '(static)' : pattern;
}

/**
 * Records a finished response, once: one log line (Fastify's own request logging is
 * off: it writes two lines per request) and the request metrics. A 503 is Redis being
 * away (expected during the experiment) and a 4xx a client's mistake: both warn.
 */
export function responseObserver(metrics: Metrics) {
  return (request: FastifyRequest, status: number, elapsedMs: number): void => {
    metrics.observe(request.method, routeLabel(request, status), status, elapsedMs / 1000);
    const path = request.url.split('?')[0];
    if (QUIET_PATHS.has(path)) return;
    const level = status === 503 || (status >= 400 && status < 500) ? 'warn' : status >= 500 ? 'error' : 'info';
    request.log[level](
      {
        // Fastify's serializers turn these into {method, url, host, remoteAddress, remotePort} and {statusCode}.
        req: request,
        res: { statusCode: status },
        responseTime: Math.round(elapsedMs * 100) / 100,
        err: request.failure,
      },
      'request completed',
    );
  };
}
