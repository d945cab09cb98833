import { Redis, type RedisOptions } from 'ioredis';
import type { ServiceConfig } from './config';
import type { Logger } from './logger';

/**
 * The replica's two Redis connections, tuned so a Redis outage never hangs a request
 * and never crashes the process:
 * - `command` runs every request's commands. No offline queue and a command timeout:
 *   while Redis is away a command fails at once (or after COMMAND_TIMEOUT_MS on a
 *   silent network), so the HTTP layer can answer 503 well within 2 seconds instead
 *   of waiting in ioredis's retry queue.
 * - `subscriber` holds the pub/sub subscription (a subscribed connection can run
 *   nothing else). The live feed subscribes on every 'ready', so it needs no queue.
 * Both reconnect forever with a capped backoff.
 */
export const COMMAND_TIMEOUT_MS = 1500;
const CONNECT_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 2000;

export type RedisRole = 'command' | 'subscriber';

export function redisOptions(config: ServiceConfig, role: RedisRole): RedisOptions {
  return {
    ...(config.redisPassword ? { password: config.redisPassword } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: role === 'command' ? COMMAND_TIMEOUT_MS : undefined,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Reconnect forever: 100 ms, 200 ms, ... capped at 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_BACKOFF_MS),
    // Subscriptions are renewed by the live feed on each 'ready' (it must also know when).
    autoResubscribe: false,
    keepAlive: 10_000,
    // A Redis that is loading its AOF answers LOADING; ioredis waits up to 10 s between
    // checks by default, which would add seconds to every stateful restart.
    maxLoadingRetryTime: 100,
  };
}

export function createRedis(config: ServiceConfig, role: RedisRole, logger: Logger): Redis {
  const client = new Redis(config.redisUrl, redisOptions(config, role));
  const log = logger.child({ redis: role });
  let connected = false;
  // Without an 'error' listener an unreachable Redis would crash the process.
  // Log the first error of an outage as a warning, the retries only at debug.
  client.on('error', (err: Error) => {
    if (connected) log.warn({ err: err.message }, 'redis connection error');
    else log.debug({ err: err.message }, 'redis still unreachable');
  });
  client.on('ready', () => {
    connected = true;
    log.info('redis connection ready');
  });
  client.on('close', () => {
    if (connected) log.warn('redis connection lost; reconnecting');
    connected = false;
  });
  return client;
}

/** Whether the connection can run commands right now. */
export function isReady(client: Redis): boolean {
  return client.status === 'ready';
}

/** QUIT politely when connected (bounded wait), otherwise just drop the socket. */
export async function closeRedis(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}
