import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisCommandLine } from '../../infra/persistence';
import { managedPersistence, MANAGED_SNAPSHOT_SECONDS } from '../../infra/managed-redis';
import { LocalStack, type LocalStackOptions } from '../local/stack';
import type { ExperimentOptions } from './args';
import { TargetError, type KillResult, type Target, type TargetInfo } from './target';
import Redis from 'ioredis';
import { ioredisAdmin } from '../backup/ioredis-admin';
import { findLocalBackup, restoreLocalBackup, takeLocalBackup } from '../backup/local';

/**
 * The local stack (what `npm start` runs: real redis-server with the pod's flags,
 * the chat replicas behind one port) as an experiment target. Redis's data lives in
 * a temporary directory unless --data-dir says otherwise, so the experiment never
 * touches the `.local/<stack>` history of `npm start`.
 */
export class LocalTarget implements Target {
  // also a VolumeLossTarget (volume-loss.ts): backup() and loseVolumeAndRestore()
  readonly kind = 'local' as const;
  private stack?: LocalStack;
  private tempDir?: string;
  /** A kill in progress: LocalStack.killRedis() starts a replacement, so stop() must wait for it. */
  private killing?: Promise<unknown>;
  private stopping?: Promise<void>;
  private readonly recent: string[] = [];

  constructor(
    private readonly opts: Pick<
      ExperimentOptions,
      | 'stack'
      | 'appendfsync'
      | 'port'
      | 'replicas'
      | 'dataDir'
      | 'messages'
      | 'load'
      | 'rate'
      | 'redis'
      | 'snapshotSeconds'
    >,
    private readonly makeStack: (o: LocalStackOptions) => LocalStack = (o) => new LocalStack(o),
  ) {}

  /** The last lines the stack logged (Redis, replicas): shown when something fails. */
  get recentLog(): readonly string[] {
    return this.recent;
  }

  async start(): Promise<TargetInfo> {
    const dataDir = this.opts.dataDir
      ? path.resolve(this.opts.dataDir)
      : (this.tempDir = fs.mkdtempSync(path.join(os.tmpdir(), `doks-chat-experiment-${this.opts.stack}-`)));
    // Enough history that no acknowledged message of a cycle is trimmed away: the
    // batch plus ten seconds of the --load writer, with room to spare.
    const historyLimit = Math.min(
      10_000,
      Math.max(1000, 2 * this.opts.messages + (this.opts.load ? this.opts.rate * 10 : 0) + 100),
    );
    let stack: LocalStack;
    try {
      stack = this.makeStack({
        stack: this.opts.stack,
        port: this.opts.port,
        replicas: this.opts.replicas,
        appendfsync: this.opts.appendfsync,
        redis: this.opts.redis,
        snapshotSeconds: this.opts.snapshotSeconds,
        dataDir,
        env: { RATE_LIMIT_PER_MIN: '0', HISTORY_LIMIT: String(historyLimit) },
        log: (line) => {
          this.recent.push(line);
          if (this.recent.length > 40) this.recent.shift();
        },
      });
    } catch (err) {
      this.removeTempDir();
      throw new TargetError((err as Error).message);
    }
    this.stack = stack;
    try {
      await stack.start();
    } catch (err) {
      this.removeTempDir();
      throw new TargetError(`the local stack did not start: ${(err as Error).message}`);
    }
    const where = this.tempDir ? 'a temporary data dir' : `data dir ${stack.redisDir}`;
    if (stack.redisMode === 'managed') {
      const persistence = managedPersistence(stack.persistent);
      const seconds = persistence === 'rdb' ? (this.opts.snapshotSeconds ?? MANAGED_SNAPSHOT_SECONDS) : null;
      const schedule =
        seconds === null
          ? 'persistence off: no dumps'
          : seconds === MANAGED_SNAPSHOT_SECONDS
            ? `RDB dumps on the managed schedule (at most every ${seconds} s when keys changed)`
            : `RDB dumps every ${seconds} s: a COMPRESSED schedule (--snapshot-seconds); the managed service dumps at most every ${MANAGED_SNAPSHOT_SECONDS} s`;
      return {
        url: stack.url,
        persistence: persistence === 'rdb',
        appendfsync: null,
        managed: { persistence, snapshotSeconds: seconds },
        description:
          `local EMULATION of DigitalOcean Managed Valkey (redis-server, not Valkey; SIGKILL stands in for a crash of the managed node): ` +
          `TLS only, a password, ${redisCommandLine(stack.plan)} on ${where}; ${schedule}; ${stack.replicas} chat replica(s) at ${stack.url}`,
      };
    }
    return {
      url: stack.url,
      persistence: stack.persistent,
      appendfsync: stack.persistent ? (this.opts.appendfsync ?? stack.config.appendfsync) : null,
      description: `local stack: ${stack.replicas} chat replica(s) at ${stack.url}, ${redisCommandLine(stack.plan)} on ${where}`,
    };
  }

  killRedis(): Promise<KillResult> {
    const kill = this.started().killRedis();
    this.killing = kill.catch(() => {});
    return kill;
  }

  /** `npm run backup` on the running Redis; backups go beside the data dir, never inside it. */
  async backup(): Promise<string> {
    const stack = this.started();
    const redis = new Redis(stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const b = await takeLocalBackup({
        stack: this.opts.stack,
        redisDir: stack.redisDir,
        backupsDir: this.backupsDir(),
        admin: ioredisAdmin(redis),
      });
      return b.name;
    } finally {
      redis.disconnect();
    }
  }

  /**
   * What `pulumi destroy` does to redis-pvc, then a restore: SIGKILL Redis, delete its data
   * directory, copy the backup into a new one, start Redis on it (the pod on the restored claim).
   */
  loseVolumeAndRestore(backup: string): Promise<KillResult> {
    const run = (async () => {
      const stack = this.started();
      const began = Date.now();
      await stack.redis.kill();
      stack.redis.wipeData();
      restoreLocalBackup(findLocalBackup(backup, this.backupsDir(), this.opts.stack), stack.redisDir, '');
      await stack.redis.start();
      return { redisRecoveryMs: Date.now() - began, aofLoaded: stack.redis.aofLoaded };
    })();
    this.killing = run.catch(() => {});
    return run;
  }

  private backupsDir(): string {
    return path.join(this.started().dataDir, 'backups');
  }

  async waitServiceReady(timeoutMs: number): Promise<void> {
    await this.started().waitReady(timeoutMs);
  }

  /** Idempotent and safe mid-cycle (Ctrl-C): lets a kill in progress finish first, so no replacement Redis outlives it. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.killing;
      const stack = this.stack;
      this.stack = undefined;
      try {
        await stack?.stop();
      } finally {
        this.removeTempDir();
      }
    })();
    return this.stopping;
  }

  private started(): LocalStack {
    if (!this.stack) throw new TargetError('the local stack is not running');
    return this.stack;
  }

  private removeTempDir(): void {
    if (this.tempDir) fs.rmSync(this.tempDir, { recursive: true, force: true });
    this.tempDir = undefined;
  }
}
