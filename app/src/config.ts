import net from 'node:net';
import os from 'node:os';
import { SETTINGS } from './stack-settings';

/**
 * The service's configuration, read once from the environment at start.
 * A bad value fails start with a message naming the variable and what it allows,
 * so a typo in a Deployment shows up in `kubectl logs` instead of as odd behaviour.
 */
export interface ServiceConfig {
  /** PORT: TCP port to listen on; 0 picks any free port. */
  port: number;
  /** HOST: address to bind. */
  host: string;
  /** REDIS_URL: redis:// or rediss:// URL of the Redis server. */
  redisUrl: string;
  /** REDIS_PASSWORD: overrides a password in REDIS_URL. */
  redisPassword?: string;
  /** HISTORY_LIMIT: messages kept in Redis (the list is trimmed to this length). */
  historyLimit: number;
  /** REPLICA_NAME: this replica's name in status, messages and logs (the pod name in Kubernetes). */
  replicaName: string;
  /** RATE_LIMIT_PER_MIN: posts per minute per client IP; 0 turns the limit off. */
  rateLimitPerMin: number;
  /** LOG_LEVEL: pino level. */
  logLevel: LogLevel;
  /**
   * TRUST_PROXY: which proxies to believe (Express's `trust proxy` semantics), which
   * decides the client IP the rate limit counts: false (the socket's peer), a number of proxy hops in X-Forwarded-For, or
   * a comma-separated list of trusted proxy addresses/subnets.
   */
  trustProxy: boolean | number | string;
  /**
   * HTTPS_ONLY: true when browsers reach the chat only over HTTPS (the load balancer
   * terminates TLS for chat:domain): the service then sends Strict-Transport-Security
   * and asks browsers to upgrade insecure requests.
   */
  httpsOnly: boolean;
  /**
   * MAX_LIVE_STREAMS: live-feed streams this replica holds at most; one more is answered
   * 503 with Retry-After. What an open stream costs (app/README.md) sizes the default so
   * that a full replica stays well inside its heap limit and the pod's memory limit.
   */
  maxLiveStreams: number;
  /**
   * MAX_STREAMS_PER_CLIENT: live-feed streams one client address (req.ip, so TRUST_PROXY
   * decides it; IPv6 per /56) may hold on this replica; 0 turns the per-client cap off.
   */
  maxStreamsPerClient: number;
  /**
   * DRAIN_SECONDS: how long after SIGTERM the process is gone at the latest: it stops
   * accepting, ends live-feed streams, lets requests in flight finish for all but the last
   * 2 s, then closes Redis and exits (main.ts). The pod's grace period counts on it
   * (infra/chat-app.ts sets it from this default).
   */
  drainSeconds: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const CONFIG_DEFAULTS = {
  port: 8080,
  host: '0.0.0.0',
  redisUrl: 'redis://127.0.0.1:6379',
  historyLimit: SETTINGS.historyLimit.default,
  rateLimitPerMin: 60,
  logLevel: 'info' as LogLevel,
  maxLiveStreams: 4_000,
  maxStreamsPerClient: 10,
  drainSeconds: 10,
};

/** The range DRAIN_SECONDS accepts: at least 3 s (1 s to drain, 2 s to close). */
export const DRAIN_SECONDS_RANGE = { min: 3, max: 300 } as const;

/** The most MAX_LIVE_STREAMS may allow (far past what a 256 Mi pod holds; see the default). */
export const MAX_LIVE_STREAMS_MAX = 100_000;

/**
 * The bounds of the variables a stack setting becomes (chat:historyLimit, chat:rateLimitPerMin):
 * those of the setting's declaration, so what `pulumi up` and `npm start` accept, every replica accepts.
 */
const HISTORY_LIMIT = SETTINGS.historyLimit.bounds;
const RATE_LIMIT_PER_MIN = SETTINGS.rateLimitPerMin.bounds;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** An empty variable counts as unset (templated manifests often render `VAR=""`). */
function read(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}"`);
  }
  return Number(raw);
}

function redisUrl(env: Env): string {
  const raw = read(env, 'REDIS_URL') ?? CONFIG_DEFAULTS.redisUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`REDIS_URL must be a URL like redis://host:6379 (or rediss:// for TLS); got "${raw}"`);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new ConfigError(`REDIS_URL must be a URL like redis://host:6379 (or rediss:// for TLS); got "${raw}"`);
  }
  return raw;
}

function logLevel(env: Env): LogLevel {
  const raw = read(env, 'LOG_LEVEL');
  if (raw === undefined) return CONFIG_DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${raw}"`);
  }
  return raw as LogLevel;
}

function replicaName(env: Env): string {
  const raw = read(env, 'REPLICA_NAME') ?? os.hostname();
  // Printable ASCII: it goes into the X-Replica header and log lines.
  if (raw.length > 100 || !/^[\x20-\x7e]+$/.test(raw)) {
    throw new ConfigError(`REPLICA_NAME must be 1 to 100 printable ASCII characters; got "${raw.slice(0, 120)}"`);
  }
  return raw;
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function trustProxy(env: Env): boolean | number | string {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw) && Number(raw) <= 10) return Number(raw);
  const items = raw.split(',').map((x) => x.trim());
  const valid = (item: string) => {
    if (PROXY_NAMES.includes(item)) return true;
    const [addr, bits, extra] = item.split('/');
    const family = net.isIP(addr);
    if (!family || extra !== undefined) return false;
    return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  };
  if (!items.every(valid)) {
    throw new ConfigError(
      `TRUST_PROXY must be false, true, a number of proxy hops (0-10), or a comma-separated list of addresses/subnets (or ${PROXY_NAMES.join(', ')}); got "${raw}"`,
    );
  }
  return items.join(', ');
}

function flag(env: Env, name: string): boolean {
  const raw = read(env, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(`${name} must be true or false; got "${raw}"`);
}

export function loadConfig(env: Env = process.env): ServiceConfig {
  const host = read(env, 'HOST') ?? CONFIG_DEFAULTS.host;
  return {
    port: integer(env, 'PORT', CONFIG_DEFAULTS.port, 0, 65535),
    host,
    redisUrl: redisUrl(env),
    // The password is taken verbatim: only an empty value counts as unset.
    redisPassword: env.REDIS_PASSWORD ? env.REDIS_PASSWORD : undefined,
    historyLimit: integer(env, 'HISTORY_LIMIT', CONFIG_DEFAULTS.historyLimit, HISTORY_LIMIT.min, HISTORY_LIMIT.max),
    replicaName: replicaName(env),
    rateLimitPerMin: integer(
      env,
      'RATE_LIMIT_PER_MIN',
      CONFIG_DEFAULTS.rateLimitPerMin,
      RATE_LIMIT_PER_MIN.min,
      RATE_LIMIT_PER_MIN.max,
    ),
    logLevel: logLevel(env),
    trustProxy: trustProxy(env),
    httpsOnly: flag(env, 'HTTPS_ONLY'),
    maxLiveStreams: integer(env, 'MAX_LIVE_STREAMS', CONFIG_DEFAULTS.maxLiveStreams, 1, MAX_LIVE_STREAMS_MAX),
    maxStreamsPerClient: integer(
      env,
      'MAX_STREAMS_PER_CLIENT',
      CONFIG_DEFAULTS.maxStreamsPerClient,
      0,
      MAX_LIVE_STREAMS_MAX,
    ),
    drainSeconds: integer(
      env,
      'DRAIN_SECONDS',
      CONFIG_DEFAULTS.drainSeconds,
      DRAIN_SECONDS_RANGE.min,
      DRAIN_SECONDS_RANGE.max,
    ),
  };
}
