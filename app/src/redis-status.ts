import { ReplyError } from 'ioredis';

/** `key:value` lines of an INFO reply. */
export function parseInfo(info: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * Redis's refusal when it cannot write to its disk: a failed AOF write (a full disk) or a
 * failed snapshot. While it lasts Redis refuses every write and PING too (MISCONF), but
 * still answers reads, INFO and read-only scripts.
 */
export function isDiskError(err: unknown): boolean {
  return err instanceof ReplyError && /\bMISCONF\b/.test((err as Error).message);
}
