import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger };

/**
 * Structured JSON logs on stdout, one object a line, as Kubernetes log collectors expect.
 * Written asynchronously: under load the lines of many requests leave in one write
 * instead of one blocking write each; pino flushes what is pending when the process exits.
 */
export function createLogger(level: LogLevel, replica: string): Logger {
  return pino({ level, base: { replica }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: false }));
}
