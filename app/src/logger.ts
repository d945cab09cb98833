import pino, { type Logger } from 'pino';
import type { LogLevel } from './config';

export type { Logger };

/** Structured JSON logs on stdout, one object a line, as Kubernetes log collectors expect. */
export function createLogger(level: LogLevel, replica: string): Logger {
  return pino({ level, base: { replica }, timestamp: pino.stdTimeFunctions.isoTime });
}
