import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ReplyError } from 'ioredis';

/** An error with the HTTP status and the message the client should see. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const REDIS_UNAVAILABLE = 'Redis is unavailable; try again in a moment';

/**
 * Runs a Redis call for a request: any failure (no connection, timeout, an error
 * reply) becomes a 503 the client can act on, with the cause kept for the log.
 */
export async function needsRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = new HttpError(503, err instanceof ReplyError ? `Redis rejected the command: ${(err as Error).message}` : REDIS_UNAVAILABLE);
    e.cause = err;
    throw e;
  }
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `not found: ${req.method} ${req.path}`));
};

export const NOT_AN_OBJECT = 'request body must be a JSON object like {"author": "...", "text": "..."}';

/** express.json (strict) refuses valid JSON that is not an object or array, with a parse error. */
function isJson(body: string | undefined): boolean {
  if (body === undefined) return false;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** body-parser's error types and what to tell the client. */
const BODY_ERRORS: Record<string, (err: { limit?: number; body?: string }) => string> = {
  'entity.parse.failed': (err) => (isJson(err.body) ? NOT_AN_OBJECT : 'request body is not valid JSON'),
  'entity.too.large': (err) => `request body is larger than ${Math.round((err.limit ?? 0) / 1024)} KB`,
  'encoding.unsupported': () => 'unsupported content encoding',
  'charset.unsupported': () => 'unsupported charset; send UTF-8 JSON',
  'request.aborted': () => 'request aborted',
};

/** The one place errors become responses: always JSON `{ "error": "..." }`. */
export function errorHandler(): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    let status = 500;
    let message = 'internal error';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err && typeof err.type === 'string' && BODY_ERRORS[err.type] && typeof err.status === 'number') {
      status = err.status;
      message = BODY_ERRORS[err.type](err);
    }
    // pino-http logs the request once, with this error: a 503's Redis cause in one line
    // (an outage produces many), anything else with its stack.
    if (status === 503) (res as { err?: unknown }).err = { message: String((err.cause as Error | undefined)?.message ?? err.message) };
    else if (status >= 500) (res as { err?: unknown }).err = err;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ error: message });
  };
}
