import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ReplyError } from 'ioredis';
import { recordFailure } from './observe';
import { isDiskError } from './redis-status';

/**
 * An error with the HTTP status, the message the client should see, any headers it needs
 * (Retry-After), and any more fields of the JSON body (a write's `stored`).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const REDIS_UNAVAILABLE = 'Redis is unavailable; try again in a moment';
export const NOT_STORED = 'Redis is unavailable; the message was not stored: try again in a moment';
export const OUTCOME_UNKNOWN =
  'Redis did not confirm the message in time: it may or may not be stored. Retry with the same Idempotency-Key to store it at most once';
export const DISK_FULL =
  'Redis cannot write to its disk (it is full or failing), so the message was not stored. Reading still works; sending works again once Redis can write';
export const CURSOR_FROM_ANOTHER_RUN =
  'this cursor is from another Redis run (Redis restarted since): its positions mean nothing now; load the newest page again';
export const NOT_AN_OBJECT = 'request body must be a JSON object like {"author": "...", "text": "..."}';
export const NOT_JSON = 'Content-Type must be application/json';

/** The largest request body read, in bytes (a message is at most 540 characters). */
export const MAX_BODY_BYTES = 16 * 1024;

/** How long a client should wait before it tries again after a 503 from Redis, in seconds. */
const REDIS_RETRY_AFTER = '1';

/**
 * ioredis's words for a command it never sent: no connection, and no offline queue to
 * wait in (app/src/redis.ts). Anything else may have reached Redis (a timeout, a
 * connection lost with the command in flight) and may have run.
 */
const NEVER_SENT = /Stream isn't writeable|Connection is closed|enableOfflineQueue/;

/**
 * Runs a Redis call for a request: any failure (no connection, timeout, an error
 * reply) becomes an answer the client can act on, with the cause kept for the log.
 * For a write (`writes`), the body's `stored` says what became of the message:
 * - `false`: surely not stored. The command was never sent, or Redis answered it with an
 *   error (a script that fails is refused at its first write, before anything is
 *   stored). A Redis that cannot write to its disk (MISCONF) is a 507 that says so.
 * - `null`: unknown. The command may have run after all (a timeout, a connection lost
 *   with it in flight): only a retry with the same Idempotency-Key is safe.
 */
export async function needsRedis<T>(call: () => Promise<T>, { writes = false } = {}): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = redisFailure(err, writes);
    e.cause = err;
    throw e;
  }
}

function redisFailure(err: unknown, writes: boolean): HttpError {
  const retry = { 'Retry-After': REDIS_RETRY_AFTER };
  if (!writes) {
    const message =
      err instanceof ReplyError ? `Redis rejected the command: ${(err as Error).message}` : REDIS_UNAVAILABLE;
    return new HttpError(503, message, retry);
  }
  if (isDiskError(err)) return new HttpError(507, DISK_FULL, {}, { stored: false });
  if (err instanceof ReplyError)
    return new HttpError(503, `Redis rejected the command: ${(err as Error).message}`, retry, { stored: false });
  if (NEVER_SENT.test(String((err as Error)?.message))) return new HttpError(503, NOT_STORED, retry, { stored: false });
  return new HttpError(503, OUTCOME_UNKNOWN, retry, { stored: null });
}

/** What body-parser (express.json) reports, by its error `type`, in words a client can act on. */
const BODY_ERRORS: Record<string, (err: { body?: string }) => string> = {
  // strict mode refuses valid JSON that is not an object or array ("hello", null) with a parse error.
  'entity.parse.failed': (err) => (isJson(err.body) ? NOT_AN_OBJECT : 'request body is not valid JSON'),
  'entity.too.large': () => `request body is larger than ${MAX_BODY_BYTES / 1024} KB`,
  'request.size.invalid': () => 'request body does not match its Content-Length',
  'request.aborted': () => 'request aborted',
  'encoding.unsupported': () => 'unsupported content encoding',
  'charset.unsupported': () => 'unsupported charset; send UTF-8 JSON',
};

function isJson(body: string | undefined): boolean {
  if (body === undefined) return false;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

interface ClientError {
  status?: unknown;
  type?: unknown;
  body?: string;
  expose?: unknown;
  message?: string;
}

/** The status and message a client sees for an error; anything unexpected is a bare 500. */
export function describeError(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  const e = (err ?? {}) as ClientError;
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
    // http-errors marks the messages that are safe to show with `expose`.
    return { status: e.status, message: known ? known(e) : e.expose === true && e.message ? e.message : 'bad request' };
  }
  return { status: 500, message: 'internal error' };
}

/** What the request log should say about an error: a Redis cause in one line (an outage produces many), another 5xx with its stack. */
export function errorForLog(err: unknown, status: number): unknown {
  if (status === 503 || status === 507) {
    const e = err as Error;
    return { message: String((e.cause as Error | undefined)?.message ?? e.message) };
  }
  return status >= 500 ? err : undefined;
}

/** Unknown paths: 404 as JSON, like every other error. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `not found: ${req.method} ${req.path}`));
};

/**
 * For a known path, after its routes: any other method is a 405 naming the ones it
 * has in `Allow` (RFC 9110 §15.5.6); OPTIONS answers 204 with the same `Allow`.
 */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  const allow = allowed.join(', ');
  return (req, res, next) => {
    res.set('Allow', allow);
    if (req.method === 'OPTIONS') res.status(204).end();
    else next(new HttpError(405, `${req.method} is not allowed on ${req.path}: use ${allow}`, { Allow: allow }));
  };
}

/** The one place errors become responses: always JSON `{ "error": "..." }`. */
export const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const { status, message } = describeError(err);
  recordFailure(res, errorForLog(err, status));
  if (res.headersSent) {
    // A stream that failed mid-way cannot change its status: cut it.
    res.destroy();
    return;
  }
  if (err instanceof HttpError) {
    res.set(err.headers);
    res.status(status).json({ error: message, ...err.fields });
    return;
  }
  res.status(status).json({ error: message });
};
