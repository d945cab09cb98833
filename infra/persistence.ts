/**
 * What the `persistence` switch means for Redis, in one pure function.
 *
 * The Redis component builds its pod from this, and the local stack (`npm start`)
 * starts `redis-server` with the same arguments, so what runs on a laptop and what
 * runs in the pod cannot drift apart. It imports no Pulumi on purpose: the local stack
 * and the experiment use it without loading Pulumi.
 */
import { APPENDFSYNC_VALUES, type AppendFsync } from '../app/src/stack-settings';

// Declared with chat:appendfsync (app/src/stack-settings.ts); named here too for the modules that build Redis.
export { APPENDFSYNC_VALUES, type AppendFsync };

export interface RedisPlan {
  /** Arguments after `redis-server` that set the persistence mode (not port, dir or auth). */
  args: string[];
  /** Whether /data must be a volume that outlives the pod (a PVC in Kubernetes). */
  needsVolume: boolean;
  /**
   * Deployment strategy: an RWO volume under RollingUpdate can deadlock on
   * Multi-Attach (the new pod waits for a volume the old pod still holds).
   */
  strategy: 'Recreate' | 'RollingUpdate';
  /** What `/api/status` reports for a Redis started this way (rdb: the managed emulation, app/local/managed-emulation.ts). */
  mode: 'memory' | 'aof' | 'rdb';
}

export function redisPlan(persistent: boolean, appendfsync: AppendFsync = 'everysec'): RedisPlan {
  if (!persistent) {
    // No RDB snapshots and no AOF: a restart starts empty, as in the tutorial's phase 1.
    return {
      args: ['--save', '', '--appendonly', 'no'],
      needsVolume: false,
      strategy: 'RollingUpdate',
      mode: 'memory',
    };
  }
  if (!APPENDFSYNC_VALUES.includes(appendfsync)) {
    throw new Error(`appendfsync must be one of ${APPENDFSYNC_VALUES.join(', ')}; got "${appendfsync}"`);
  }
  return {
    args: ['--appendonly', 'yes', '--appendfsync', appendfsync],
    needsVolume: true,
    strategy: 'Recreate',
    mode: 'aof',
  };
}

/** The file in the data directory a redis-server holds an exclusive flock(2) on while it runs. */
export const DATA_LOCK_FILE = 'redis.lock';

/** A process as Kubernetes starts a container: `command` then `args`. */
export interface RedisLaunch {
  command: string[];
  args: string[];
}

/** A path as one shell word (single-quoted unless it is plainly safe). */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The lock guard: the shell opens fd 9 on <dir>/redis.lock, waits for an exclusive flock on
 * it, then execs redis-server, which inherits fd 9 and so holds the lock until it exits (the
 * kernel drops a flock when the last descriptor of the open file closes, also on SIGKILL).
 * `exec` keeps the pid: redis-server is the container's pid 1 and gets SIGTERM as before.
 *
 * Why: `strategy: Recreate` waits for the old pod to be gone only on a rollout. After
 * `kubectl delete pod -l app=redis` the ReplicaSet starts the replacement at once, and on the
 * same node the volume is already attached, so the new redis-server could open the AOF while
 * the old one is still shutting down (csi-digitalocean offers only SINGLE_NODE_WRITER:
 * digitalocean/csi-digitalocean driver/controller.go `supportedAccessMode`).
 *
 * What it relies on, checked in the sources: `flock FD` with -n exists in util-linux (Debian
 * images) and in busybox (util-linux/flock.c, CONFIG_FLOCK=y in alpinelinux/aports
 * main/busybox/busyboxconfig, which the redis:*-alpine image runs); busybox ash and dash open
 * `exec 9>>file` without close-on-exec (mirror/busybox shell/ash.c openredirect + dup2), so
 * the descriptor survives the exec.
 */
function lockGuard(dir: string): string {
  const lock = shellWord(`${dir.replace(/\/+$/, '')}/${DATA_LOCK_FILE}`);
  return [
    'command -v flock >/dev/null || { echo "redis-lock: flock not found; refusing to start without the data-directory lock" >&2; exit 1; }',
    `exec 9>>${lock} || exit 1`,
    `flock -n 9 || { echo "redis-lock: another redis-server holds ${DATA_LOCK_FILE} in the data directory; waiting for it to exit" >&2; flock 9 || exit 1; }`,
    'exec redis-server "$@"',
  ].join('\n');
}

/**
 * How to start Redis for a plan, on data directory `dir`, with `serverArgs` (port, auth, ...)
 * after the plan's. The pod and the local stack both start Redis from this, so they cannot
 * drift: with a volume (aof), behind the lock guard above; memory-only, plain `redis-server`
 * (there is no data directory to share).
 */
export function redisLaunch(plan: RedisPlan, dir: string, serverArgs: string[] = []): RedisLaunch {
  if (!plan.needsVolume) return { command: ['redis-server'], args: [...plan.args, ...serverArgs] };
  // After `sh -c SCRIPT`, the next word is $0 (named redis-server for ps and error messages);
  // the rest are "$@", passed to redis-server untouched by the shell.
  return {
    command: ['sh', '-c', lockGuard(dir), 'redis-server'],
    args: [...plan.args, '--dir', dir, ...serverArgs],
  };
}

/** The shell-free rendering used in docs and stack outputs, e.g. `redis-server --save "" --appendonly no`. */
export function redisCommandLine(plan: RedisPlan): string {
  return ['redis-server', ...plan.args.map((a) => (a === '' ? '""' : a))].join(' ');
}
