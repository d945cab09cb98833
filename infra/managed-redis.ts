/**
 * What `chat:redis managed` means, as plain facts without Pulumi: the infra program and the
 * local emulation (app/local) read them from here, so "what
 * DigitalOcean runs" and "what runs on a laptop" cannot drift apart.
 *
 * Source: digitalocean/terraform-provider-digitalocean
 * digitalocean/database/resource_database_valkey_config.go, schema "persistence": "When
 * persistence is 'rdb', Valkey does RDB dumps each 10 minutes if any key is changed. [...]
 * When persistence is 'off', no RDB dumps and backups are done, so data can be lost at any
 * moment if service is restarted". There is no append-only file.
 */
import { MANAGED_PERSISTENCE_ENV, MANAGED_SNAPSHOT_SECONDS, type ManagedPersistence } from '../app/src/redis-status';

/** Where the chat history lives: today's `redis-deployment` pod, or DigitalOcean Managed Valkey. */
export type RedisMode = 'pod' | 'managed';
export const REDIS_MODES: readonly RedisMode[] = ['pod', 'managed'];

// Declared with the service (app/src/redis-status.ts), which reports them on /api/status.
export { MANAGED_PERSISTENCE_ENV, MANAGED_SNAPSHOT_SECONDS, type ManagedPersistence };

/** `chat:persistence` → the managed service's persistence: true → rdb snapshots, false → none. */
export function managedPersistence(persistent: boolean): ManagedPersistence {
  return persistent ? 'rdb' : 'off';
}

/** The Valkey major version the program asks for ("We currently support Valkey version 8", DigitalOcean's Valkey docs). */
export const VALKEY_VERSION = '8';

/**
 * redis-server arguments that run the way the managed service runs: no append-only file,
 * and with `rdb` one dump when at least one key changed in `snapshotSeconds` (redis.conf
 * `save <seconds> <changes>`). The real service's interval is MANAGED_SNAPSHOT_SECONDS;
 * the experiment may compress it and says so in its report.
 */
export function managedEmulationArgs(persistence: ManagedPersistence, snapshotSeconds = MANAGED_SNAPSHOT_SECONDS) {
  if (!Number.isInteger(snapshotSeconds) || snapshotSeconds < 1) {
    throw new Error(`the snapshot interval must be a whole number of seconds, at least 1; got ${snapshotSeconds}`);
  }
  return persistence === 'rdb'
    ? ['--appendonly', 'no', '--save', `${snapshotSeconds} 1`]
    : ['--appendonly', 'no', '--save', ''];
}

/**
 * Regions that offer DigitalOcean Managed Databases, read with the prices (infra/prices.ts
 * PRICES.readOn); `doctl databases options regions` lists them for an account. The
 * provider has no data source for database options, so the program checks this list
 * before anything is created.
 */
export const MANAGED_DATABASE_REGIONS: readonly string[] = [
  'nyc1',
  'nyc3',
  'sfo2',
  'sfo3',
  'ams3',
  'lon1',
  'fra1',
  'tor1',
  'sgp1',
  'blr1',
  'syd1',
  'atl1',
];
