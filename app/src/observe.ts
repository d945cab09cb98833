import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The error a request failed with, for its log line (set by the error handler). */
export function recordFailure(res: Response, failure: unknown): void {
  res.locals.failure = failure;
}

/** The route label of a response: its route pattern, so metrics stay bounded whatever URLs clients try. */
function routeLabel(req: Request, status: number): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return `${req.baseUrl}${pattern}`;
  return status === 404 ? '(unmatched)' : '(static)';
}

/**
 * Records each finished response, once: one log line and the request metrics. A 503
 * is Redis being away (expected during the experiment) and a 4xx a client's mistake:
 * both warn. Live-feed streams are recorded when they close. The probes are mounted
 * before this (app.ts), so they are neither logged nor counted.
 */
export function responseObserver(metrics: Metrics, logger: Logger): RequestHandler {
  let requests = 0;
  return (req, res, next) => {
    const started = performance.now();
    const reqId = `req-${(++requests).toString(36)}`;
    // 'close' comes once per response, whether it finished or the client went away: one
    // listener, where on-finished attached several to the response and its socket.
    res.once('close', () => {
      const elapsedMs = performance.now() - started;
      const status = res.statusCode;
      metrics.observe(req.method, routeLabel(req, status), status, elapsedMs / 1000);
      const level = status === 503 || (status >= 400 && status < 500) ? 'warn' : status >= 500 ? 'error' : 'info';
      logger[level](
        {
          reqId,
          req: {
            method: req.method,
            url: req.originalUrl,
            host: req.headers.host,
            remoteAddress: req.ip,
            remotePort: req.socket.remotePort,
          },
          res: { statusCode: status },
          responseTime: Math.round(elapsedMs * 100) / 100,
          err: res.locals.failure,
        },
        'request completed',
      );
    });
    next();
  };
}
