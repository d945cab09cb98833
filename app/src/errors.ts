import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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
export const NOT_AN_OBJECT = 'request body must be a JSON object like {"author": "...", "text": "..."}';
export const NOT_JSON = 'Content-Type must be application/json';

/** The largest request body read, in bytes (a message is at most 540 characters). */
export const MAX_BODY_BYTES = 16 * 1024;

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

/** What Fastify's body reading and JSON parsing report, in words a client can act on. */
const BODY_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: NOT_AN_OBJECT,
  FST_ERR_CTP_BODY_TOO_LARGE: `request body is larger than ${MAX_BODY_BYTES / 1024} KB`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: NOT_JSON,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'request body does not match its Content-Length',
};

/** The status and message a client sees for an error; anything unexpected is a bare 500. */
function describeError(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  const e = err as Partial<FastifyError> | undefined;
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (bad URL, aborted body, ...) carry a safe message.
    return { status, message: (e?.code && BODY_ERRORS[e.code]) ?? e?.message ?? 'bad request' };
  }
  return { status: 500, message: 'internal error' };
}

/** What the request log should say about an error: a 503's Redis cause in one line (an outage produces many), a 5xx with its stack. */
function errorForLog(err: unknown, status: number): unknown {
  if (status === 503) {
    const e = err as Error;
    return { message: String((e.cause as Error | undefined)?.message ?? e.message) };
  }
  return status >= 500 ? err : undefined;
}

/** Unknown paths and methods: 404 as JSON, like every other error. */
export function notFound(request: FastifyRequest): never {
  throw new HttpError(404, `not found: ${request.method} ${request.url.split('?')[0]}`);
}

/** The one place errors become responses: always JSON `{ "error": "..." }`. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, message } = describeError(err);
  request.failure = errorForLog(err, status);
  void reply.code(status).send({ error: message });
}
