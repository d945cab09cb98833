import { ReplyError, type Redis } from 'ioredis';

/**
 * Facts about DigitalOcean Managed Valkey the service needs; declared here (the image builds
 * app/src alone) and re-exported by infra/managed-redis.ts, which cites their source.
 */
/** The managed service's persistence setting (DatabaseValkeyConfig `persistence`). */
export type ManagedPersistence = 'rdb' | 'off';
/** With `rdb`: "RDB dumps each 10 minutes if any key is changed". */
export const MANAGED_SNAPSHOT_SECONDS = 600;
/**
 * The env var that tells a chat replica what the managed service was configured with
 * (`rdb` or `off`). Managed services refuse CONFIG, so the replica cannot read `save`
 * from the server; it reports this declared value instead.
 */
export const MANAGED_PERSISTENCE_ENV = 'REDIS_MANAGED_PERSISTENCE';

/** What Redis itself says about how it runs, so the page shows what the server really does. */
export interface RedisFacts {
  /** aof: append-only file; rdb: snapshots only; memory: neither. */
  persistence: 'memory' | 'aof' | 'rdb';
  /** With rdb: a dump at most this often when keys changed; null otherwise. */
  snapshotSeconds: number | null;
  /** The managed service (chat:redis managed), as the deployment declares it. */
  managed: boolean;
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

/** The shortest interval of a `save` setting ("600 1 60 100" → 60); null when there is none. */
export function snapshotInterval(save: string): number | null {
  const numbers = save.trim().split(/\s+/).filter(Boolean).map(Number);
  const seconds = numbers.filter((_, i) => i % 2 === 0).filter((n) => Number.isFinite(n) && n > 0);
  return seconds.length ? Math.min(...seconds) : null;
}

/** REDIS_MANAGED_PERSISTENCE: what the program configured on the managed service (rdb | off), else undefined. */
export function declaredManagedPersistence(env: Record<string, string | undefined> = process.env) {
  const v = env[MANAGED_PERSISTENCE_ENV];
  return v === 'rdb' || v === 'off' ? v : undefined;
}

const declared = declaredManagedPersistence();

const pair = (reply: unknown): string | undefined =>
  Array.isArray(reply) && reply.length === 2 ? String(reply[1]) : undefined;

/**
 * Persistence from `CONFIG GET appendonly` and `CONFIG GET save`. Managed services refuse
 * CONFIG: then INFO's `aof_enabled` says whether there is an AOF, and the managed service's
 * declared setting (REDIS_MANAGED_PERSISTENCE, from the program) whether it snapshots.
 * INFO (all default sections) comes in the same round trip and gives the uptime and run id.
 */
export async function readRedisFacts(redis: Redis, managed = declared): Promise<RedisFacts> {
  const results = await redis
    .pipeline()
    .call('CONFIG', 'GET', 'appendonly')
    .call('CONFIG', 'GET', 'save')
    .info()
    .exec();
  if (!results) throw new Error('Redis pipeline returned nothing');
  const [[aofErr, aofReply], [saveErr, saveReply], [infoErr, infoText]] = results as [Error | null, unknown][];
  if (infoErr) throw infoErr;
  const info = parseInfo(String(infoText));

  const appendonly = aofErr ? undefined : pair(aofReply);
  const aof = appendonly !== undefined ? appendonly.toLowerCase() === 'yes' : info.aof_enabled === '1';
  const save = saveErr ? undefined : pair(saveReply);
  const snapshotSeconds =
    save !== undefined ? snapshotInterval(save) : managed === 'rdb' ? MANAGED_SNAPSHOT_SECONDS : null;
  return {
    persistence: aof ? 'aof' : snapshotSeconds !== null ? 'rdb' : 'memory',
    snapshotSeconds: aof ? null : snapshotSeconds,
    managed: managed !== undefined,
    uptimeSeconds: Number(info.uptime_in_seconds ?? 0),
    runId: info.run_id ?? '',
  };
}

/**
 * Redis's refusal when it cannot write to its disk: a failed AOF write (a full disk) or a
 * failed snapshot. While it lasts Redis refuses every write and PING too (MISCONF), but
 * still answers reads, INFO and read-only scripts.
 */
export function isDiskError(err: unknown): boolean {
  return err instanceof ReplyError && /\bMISCONF\b/.test((err as Error).message);
}
