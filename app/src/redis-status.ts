import type { Redis } from 'ioredis';

/** What Redis itself says about how it runs, so the page shows what the server really does. */
export interface RedisFacts {
  persistence: 'memory' | 'aof';
  uptimeSeconds: number;
  runId: string;
}

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
 * Persistence from `CONFIG GET appendonly`; managed Redis services often rename or
 * disable CONFIG, so fall back to INFO's `aof_enabled`. INFO (all default sections)
 * comes in the same round trip and also gives the uptime and run id.
 */
export async function readRedisFacts(redis: Redis): Promise<RedisFacts> {
  const results = await redis.pipeline().call('CONFIG', 'GET', 'appendonly').info().exec();
  if (!results) throw new Error('Redis pipeline returned nothing');
  const [[configErr, config], [infoErr, infoText]] = results as [[Error | null, unknown], [Error | null, unknown]];
  if (infoErr) throw infoErr;
  const info = parseInfo(String(infoText));

  let aof: boolean;
  if (!configErr && Array.isArray(config) && config.length === 2) {
    aof = String(config[1]).toLowerCase() === 'yes';
  } else {
    aof = info.aof_enabled === '1';
  }
  return {
    persistence: aof ? 'aof' : 'memory',
    uptimeSeconds: Number(info.uptime_in_seconds ?? 0),
    runId: info.run_id ?? '',
  };
}
