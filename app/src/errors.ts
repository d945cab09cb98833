import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ReplyError } from 'ioredis';
import { recordFailure } from './observe';

/** An error with the HTTP status, the message the client should see, and any headers it needs (Retry-After). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const REDIS_UNAVAILABLE = 'Redis is unavailable; try again in a moment';
export const NOT_STORED = 'Redis is unavailable; the message was not stored: try again in a moment';
export const OUTCOME_UNKNOWN =
  'Redis did not confirm the message in time: it may or may not be stored. Retry with the same Idempotency-Key to store it at most once';
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
 * reply) becomes a 503 the client can act on, with the cause kept for the log.
 * For a write (`writes`), the message says whether it was surely not stored, or whether
 * the outcome is unknown (the command may have run after all): then only a retry with
 * the same Idempotency-Key is safe.
 */
export async function needsRedis<T>(call: () => Promise<T>, { writes = false } = {}): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const message =
      err instanceof ReplyError
        ? `Redis rejected the command: ${(err as Error).message}`
        : !writes
          ? REDIS_UNAVAILABLE
          : NEVER_SENT.test(String((err as Error)?.message))
            ? NOT_STORED
            : OUTCOME_UNKNOWN;
    const e = new HttpError(503, message, { 'Retry-After': REDIS_RETRY_AFTER });
    e.cause = err;
    throw e;
  }
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

/** What the request log should say about an error: a 503's Redis cause in one line (an outage produces many), a 5xx with its stack. */
export function errorForLog(err: unknown, status: number): unknown {
  if (status === 503) {
    const e = err as Error;
    return { message: String((e.cause as Error | undefined)?.message ?? e.message) };
  }
  return status >= 500 ? err : undefined;
}

/** Unknown paths and methods: 404 as JSON, like every other error. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `not found: ${req.method} ${req.path}`));
};

/** The one place errors become responses: always JSON `{ "error": "..." }`. */
export const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const { status, message } = describeError(err);
  recordFailure(res, errorForLog(err, status));
  if (res.headersSent) {
    // A stream that failed mid-way cannot change its status: cut it.
    res.destroy();
    return;
  }
  if (err instanceof HttpError) res.set(err.headers);
  res.status(status).json({ error: message });
};
