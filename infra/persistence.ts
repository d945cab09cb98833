/**
 * What the `persistence` switch means for Redis, in one pure function.
 *
 * The Redis component builds its pod from this, and the local stack (`npm start`)
 * starts `redis-server` with the same arguments, so what runs on a laptop and what
 * runs in the pod cannot drift apart. No imports on purpose: the local stack and
 * the experiment use it without loading Pulumi.
 */

export type AppendFsync = 'everysec' | 'always';

export const APPENDFSYNC_VALUES: readonly AppendFsync[] = ['everysec', 'always'];

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
  /** What `/api/status` reports for a Redis started this way. */
  mode: 'memory' | 'aof';
}

export function redisPlan(persistent: boolean, appendfsync: AppendFsync = 'everysec'): RedisPlan {
  if (!persistent) {
    // No RDB snapshots and no AOF: a restart starts empty, as in the tutorial's phase 1.
    return { args: ['--save', '', '--appendonly', 'no'], needsVolume: false, strategy: 'RollingUpdate', mode: 'memory' };
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

/** The shell-free rendering used in docs and stack outputs, e.g. `redis-server --save "" --appendonly no`. */
export function redisCommandLine(plan: RedisPlan): string {
  return ['redis-server', ...plan.args.map((a) => (a === '' ? '""' : a))].join(' ');
}
