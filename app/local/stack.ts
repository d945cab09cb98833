/**
 * The whole system on one machine, built the way the cluster is built:
 *
 *   Kubernetes (pulumi up -s <stack>)         LocalStack
 *   Redis pod, args from redisPlan()          redis-server with exactly redisPlan().args
 *   redis-pvc (do-block-storage)              <dataDir>/redis, kept across kills
 *   no volume (memory-only)                   <dataDir>/redis wiped at start and on kill
 *   chat-app-deployment, N pods               N `cluster` workers of dist/app/src/main.js
 *   chat-app-lb                               the cluster primary, round-robin on one port
 *   kubectl delete pod -l app=redis           killRedis(): SIGKILL + a replacement Redis
 *   readiness probe GET /readyz               waitReady()
 *
 * Used by `npm start`, the experiment, the benchmarks and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisPlan, type AppendFsync, type RedisPlan } from '../../infra/persistence';
import { HISTORY_KEY, parseMessage } from '../src/chat-store';
import { httpRequest } from './http';
import { freePort, portInUse } from './ports';
import { onLines, pidAlive, waitGone } from './processes';
import { RedisServer } from './redis-server';
import { ensureTlsFiles, managedPlan, newPassword, type TlsFiles } from './managed-emulation';
import { managedPersistence, MANAGED_PERSISTENCE_ENV } from '../../infra/managed-redis';
import { REPLICAS_CONFIG_ENV, type ReplicasConfig, type ReplicasMessage } from './replicas';
import { ensureStackFile, readStackConfig, repoRoot, type StackConfig } from './stack-config';

export type { AppendFsync, RedisPlan };

export interface LocalStackOptions {
  stack: 'stateless' | 'stateful';
  /** HTTP port, default 8080; 0 = pick a free one. */
  port?: number;
  /** Default from the stack file (chat:appReplicas). */
  replicas?: number;
  /** Overrides the stack file (chat:appendfsync). */
  appendfsync?: AppendFsync;
  /** Default <repo>/.local/<stack>. Redis's data ("the volume") is <dataDir>/redis. */
  dataDir?: string;
  /** Extra env for the replicas, e.g. { RATE_LIMIT_PER_MIN: '0' }. */
  env?: Record<string, string>;
  /** Where progress and log lines go (default: nothing). Lines start with [stack], [redis] or [replica-N]. */
  log?: (line: string) => void;
  /**
   * `pod` (default): redis-server as the Redis pod runs. `managed`: as DigitalOcean Managed
   * Valkey runs (managed-emulation.ts): TLS only, a password, no AOF, RDB on its schedule.
   */
  redis?: 'pod' | 'managed';
  /** managed with chat:persistence true: seconds between dumps (default the service's 600). */
  snapshotSeconds?: number;
  /** Replicas append their log lines to this file instead of passing them to `log` (see ReplicasConfig.logFile). */
  replicaLogFile?: string;
}

export class LocalStackError extends Error {}

const DEFAULT_PORT = 8080;

export class LocalStack {
  readonly persistent: boolean;
  readonly plan: RedisPlan;
  readonly redis: RedisServer;
  /** The stack file's settings this stack runs with. */
  readonly config: StackConfig;
  readonly dataDir: string;
  /** Redis's data directory: what the PVC is in the cluster. */
  readonly redisDir: string;
  readonly replicas: number;
  /** Where the history lives, as chat:redis says. */
  readonly redisMode: 'pod' | 'managed';
  url: string;
  private readonly tls?: TlsFiles;
  private readonly redisPassword?: string;

  private port: number;
  private readonly root: string;
  private readonly log: (line: string) => void;
  private primary?: ChildProcess;
  private primaryExit?: Promise<void>;
  private primaryPid?: number;
  private pids = new Map<string, number>();
  private starting?: Promise<{ url: string }>;
  private stopRequested = false;

  constructor(private readonly opts: LocalStackOptions) {
    this.root = repoRoot();
    ensureStackFile(opts.stack, this.root);
    this.config = readStackConfig(opts.stack, this.root);
    this.persistent = this.config.persistent;
    // --redis wins; else the stack file's chat:redis, as `pulumi up` reads it.
    this.redisMode = opts.redis ?? this.config.settings.redis;
    this.plan =
      this.redisMode === 'managed'
        ? managedPlan(managedPersistence(this.persistent), opts.snapshotSeconds)
        : redisPlan(this.persistent, opts.appendfsync ?? this.config.appendfsync);
    this.replicas = opts.replicas ?? this.config.appReplicas;
    if (!Number.isInteger(this.replicas) || this.replicas < 1) {
      throw new LocalStackError(`replicas must be a whole number of at least 1; got ${this.replicas}`);
    }
    this.dataDir = path.resolve(opts.dataDir ?? path.join(this.root, '.local', opts.stack));
    this.redisDir = path.join(this.dataDir, 'redis');
    if (this.redisMode === 'managed') {
      // Kept beside (not in) Redis's data dir: a kill of the memory-only emulation wipes that.
      this.tls = ensureTlsFiles(path.join(this.dataDir, 'tls'));
      this.redisPassword = newPassword();
    }
    this.redis = new RedisServer({ plan: this.plan, dir: this.redisDir, tls: this.tls, password: this.redisPassword });
    this.port = opts.port ?? DEFAULT_PORT;
    this.url = `http://127.0.0.1:${this.port}`;
    this.log = opts.log ?? (() => {});
    this.redis.on('line', (line: string) => this.log(`[redis] ${line}`));
  }

  /** The replica program: the service as the container runs it (`npm run serve`). */
  get serviceMain(): string {
    return process.env.LOCAL_STACK_SERVICE_MAIN ?? path.join(this.root, 'dist', 'app', 'src', 'main.js');
  }

  /** Pid of the cluster primary (the local load balancer + ReplicaSet); after stop(), the pid it had. */
  get supervisorPid(): number | undefined {
    return this.primaryPid;
  }

  /** Starts Redis, then the replicas; resolves when /readyz answers 200 on every replica. */
  start(): Promise<{ url: string }> {
    if (this.starting) return Promise.reject(new LocalStackError('this LocalStack was already started'));
    this.starting = this.startAll();
    return this.starting;
  }

  private async startAll(): Promise<{ url: string }> {
    // stop() may be called while this runs (Ctrl-C during start): check before each
    // step that creates a process, so nothing is started after stop() cleaned up.
    const notStopped = () => {
      if (this.stopRequested) throw new LocalStackError('stopped while starting');
    };
    try {
      RedisServer.assertInstalled();
      const replicasJs = path.join(this.root, 'dist', 'app', 'local', 'replicas.js');
      for (const file of [this.serviceMain, replicasJs]) {
        if (!fs.existsSync(file)) {
          throw new LocalStackError(`${path.relative(this.root, file)} does not exist: run \`npm run build\` first`);
        }
      }
      if (this.port === 0) this.port = await freePort();
      else if (await portInUse(this.port)) {
        throw new LocalStackError(
          `port ${this.port} is already in use on 127.0.0.1: stop what uses it, or choose another port (--port N, or --port 0 for a free one)`,
        );
      }
      this.url = `http://127.0.0.1:${this.port}`;

      notStopped();
      if (!this.persistent) this.redis.wipeData(); // a memory-only pod has no volume: it starts empty
      this.log(
        `[stack] ${this.opts.stack}: starting redis-server ${this.plan.args.map((a) => (a === '' ? '""' : a)).join(' ')} (data dir ${this.redisDir})`,
      );
      await this.redis.start();
      this.log(`[stack] redis-server ready on ${this.redis.url} (pid ${this.redis.pid})`);

      notStopped();
      this.log(`[stack] starting ${this.replicas} chat replica(s) on ${this.url}`);
      await this.startReplicas(replicasJs);
      const ms = await this.waitReady();
      this.log(`[stack] all replicas ready (GET /readyz 200) after ${ms} ms`);
      return { url: this.url };
    } catch (err) {
      await this.teardown();
      throw err;
    }
  }

  /**
   * What `kubectl delete pod -l app=redis` does: SIGKILL Redis, then start a new one on
   * the same port. The persistent stack's replacement opens the same data dir (the PVC)
   * and loads the AOF; the memory-only one starts on an empty dir (a new pod, no volume).
   * Resolves when the replacement accepts connections; call waitReady() to time the chat's recovery.
   * `history` counts what came back: the messages the history held just before the kill,
   * and how many of those (by id) the new Redis holds. Redis's "DB loaded" log line says
   * only that it read the file, also after cutting off a damaged tail.
   */
  async killRedis(): Promise<{
    redisRecoveryMs: number;
    aofLoaded: boolean;
    snapshotLoaded: boolean;
    history?: { before: number; cameBack: number };
  }> {
    const before = this.redis.running ? await this.historyIds() : undefined;
    const began = Date.now();
    const oldPid = this.redis.pid;
    await this.redis.kill();
    this.log(`[stack] killed redis-server (pid ${oldPid}) with SIGKILL`);
    if (this.stopRequested) throw new LocalStackError('the stack is stopping: no replacement Redis');
    if (!this.persistent) this.redis.wipeData();
    await this.redis.start();
    const redisRecoveryMs = Date.now() - began;
    const aofLoaded = this.redis.aofLoaded;
    const snapshotLoaded = this.redis.snapshotLoaded;
    this.log(
      `[stack] replacement redis-server (pid ${this.redis.pid}) ready after ${redisRecoveryMs} ms; ` +
        (aofLoaded
          ? 'it loaded the append-only file'
          : snapshotLoaded
            ? 'it loaded the last RDB snapshot (writes after that dump are gone)'
            : this.persistent
              ? 'no append-only file was loaded'
              : 'it started empty (memory-only)'),
    );
    const after = before && (await this.historyIds());
    let history: { before: number; cameBack: number } | undefined;
    if (before && after) {
      const now = new Set(after);
      history = { before: before.length, cameBack: before.filter((id) => now.has(id)).length };
    }
    return { redisRecoveryMs, aofLoaded, snapshotLoaded, history };
  }

  /** The ids of the messages in Redis's history list, read directly; undefined when Redis does not answer. */
  private async historyIds(): Promise<string[] | undefined> {
    const redis = new Redis(this.redis.port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2000,
      commandTimeout: 5000,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const items = await redis.lrange(HISTORY_KEY, 0, -1);
      return items.map((item) => parseMessage(item)?.id).filter((id): id is string => id !== undefined);
    } catch {
      return undefined;
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Milliseconds until GET /readyz answers 200 from every replica: as many 200s in a row
   * as there are replicas, each on a new connection (round-robin gives each to the next replica).
   */
  async waitReady(timeoutMs = 30_000): Promise<number> {
    const began = Date.now();
    let streak = 0;
    let last = 'no answer yet';
    while (streak < this.replicas) {
      if (Date.now() - began > timeoutMs) {
        throw new LocalStackError(
          `${this.url}/readyz did not answer 200 from all replicas within ${timeoutMs} ms (last: ${last})`,
        );
      }
      if (this.primary && this.primary.exitCode !== null) throw new LocalStackError('the replicas are not running');
      try {
        const res = await httpRequest(`${this.url}/readyz`, { timeoutMs: 2000 });
        last = `${res.status}`;
        streak = res.status === 200 ? streak + 1 : 0;
      } catch (err) {
        last = (err as Error).message;
        streak = 0;
      }
      if (streak === 0) await sleep(50);
    }
    return Date.now() - began;
  }

  /** Pids of the chat replicas now running (a restarted replica has a new pid). */
  replicaPids(): number[] {
    return [...this.pids.values()];
  }

  /** SIGTERM the replicas (graceful), then stop Redis (SIGTERM, it flushes). Leaves no process behind. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.teardown();
    // A start() in flight notices stopRequested, fails, and tears down what it made since.
    await this.starting?.catch(() => {});
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    const primary = this.primary;
    if (primary && this.primaryExit) {
      const pid = primary.pid!;
      if (primary.exitCode === null && primary.signalCode === null) primary.kill('SIGTERM');
      const timeout = sleep(15_000, 'timeout' as const, { ref: false });
      if ((await Promise.race([this.primaryExit, timeout])) === 'timeout') {
        this.log('[stack] replicas did not stop within 15 s: SIGKILL');
        try {
          process.kill(-pid, 'SIGKILL'); // its process group: the primary and every worker
        } catch {
          /* already gone */
        }
        await this.primaryExit;
      }
      // Workers exit before their primary does; make sure none outlived it.
      for (const p of this.pids.values()) {
        if (pidAlive(p)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
          await waitGone(p, 2000);
        }
      }
      this.pids.clear();
      this.primary = undefined;
    }
    if (this.redis.running) {
      await this.redis.stop();
      this.log('[stack] redis-server stopped');
    }
  }

  private startReplicas(replicasJs: string): Promise<void> {
    const config: ReplicasConfig = {
      main: this.serviceMain,
      replicas: this.replicas,
      env: {
        PORT: String(this.port),
        HOST: '127.0.0.1',
        REDIS_URL: this.redis.url,
        REDIS_PASSWORD: '', // the local Redis has none; ignore one set in the caller's shell
        HISTORY_LIMIT: String(this.config.historyLimit),
        ...(this.tls && this.redisPassword
          ? {
              // As the chat pods get it: one rediss:// URL with the password in it.
              REDIS_URL: `rediss://default:${encodeURIComponent(this.redisPassword)}@127.0.0.1:${this.redis.port}`,
              // The emulation's CA, trusted the standard way (no custom CA option in the service).
              NODE_EXTRA_CA_CERTS: this.tls.caFile,
              [MANAGED_PERSISTENCE_ENV]: managedPersistence(this.persistent),
            }
          : {}),
        ...this.opts.env,
      },
      logFile: this.opts.replicaLogFile,
    };
    const primary = spawn(process.execPath, [replicasJs], {
      cwd: this.root,
      // Own process group: a Ctrl-C in the terminal reaches `npm start`, which stops
      // the replicas gracefully, instead of killing them all at once.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, [REPLICAS_CONFIG_ENV]: JSON.stringify(config) },
    });
    this.primary = primary;
    this.primaryPid = primary.pid;
    this.primaryExit = new Promise((resolve) => primary.once('exit', () => resolve()));
    onLines(primary.stdout!, (line) => this.log(line));
    onLines(primary.stderr!, (line) => this.log(`[replicas] ${line}`));

    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      primary.on('message', (msg: ReplicasMessage) => {
        switch (msg.type) {
          case 'listening':
            this.pids.set(msg.replica, msg.pid);
            break;
          case 'ready':
            settle();
            break;
          case 'exit':
            this.pids.delete(msg.replica);
            this.log(
              `[stack] ${msg.replica} (pid ${msg.pid}) exited unexpectedly (code ${msg.code}, signal ${msg.signal}); restarting it in ${msg.restartInMs} ms`,
            );
            break;
          case 'fatal':
            settle(new LocalStackError(`the chat replicas could not start: ${msg.message}`));
            break;
        }
      });
      primary.once('error', (err) => settle(new LocalStackError(`cannot start the replicas: ${err.message}`)));
      primary.once('exit', (code, signal) => {
        this.pids.clear();
        settle(new LocalStackError(`the replicas' primary exited during start (code ${code}, signal ${signal})`));
      });
    });
  }
}
