import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { redisLaunch, type RedisPlan } from '../../infra/persistence';
import { tlsOnlyArgs, type TlsFiles } from './managed-emulation';
import { freePort } from './ports';

/**
 * A real `redis-server` process, managed the way Kubernetes manages the Redis pod:
 * started with the pod's arguments on a data directory, killed with SIGKILL, and
 * started again on the same directory (the volume) or a fresh one.
 * Used by the local stack, the experiment, the benchmarks and the tests.
 */
export interface RedisServerOptions {
  /** The persistence plan, `redisPlan(...)`: started through `redisLaunch`, exactly as the pod starts. */
  plan: RedisPlan;
  /** More redis-server arguments after the plan's (tests and benchmarks). */
  extraArgs?: string[];
  /** Data directory (stands in for the pod's /data). Created if missing. */
  dir: string;
  /** Port on 127.0.0.1; a free one is chosen when omitted. Kept across restarts. */
  port?: number;
  password?: string;
  /** Accept only TLS on `port`, with these files (the managed emulation). */
  tls?: TlsFiles;
  /** How long start() waits for "Ready to accept connections". */
  startTimeoutMs?: number;
}

export class RedisServerError extends Error {}

const READY = /Ready to accept connections/;
/** Redis's log line when it loaded the append-only file (the seed's `kubectl logs` check). */
export const AOF_LOADED = /DB loaded from append only file/;
const RDB_LOADED = /DB loaded from disk/;

export class RedisServer extends EventEmitter {
  private child?: ChildProcess;
  private logLines: string[] = [];
  port = 0;
  /** Log lines of the current process only (reset by each start). */
  get log(): readonly string[] {
    return this.logLines;
  }

  constructor(private readonly opts: RedisServerOptions) {
    super();
  }

  /** Fails with a clear message when redis-server is not installed. */
  static assertInstalled(): void {
    const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) {
      throw new RedisServerError(
        'redis-server is not installed. Debian/Ubuntu: sudo apt-get install redis-server · macOS: brew install redis',
      );
    }
  }

  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the current process loaded its data from the AOF (the seed's log line). */
  get aofLoaded(): boolean {
    return this.logLines.some((l) => AOF_LOADED.test(l));
  }

  /** Whether the current process loaded an RDB snapshot (dump.rdb) at start. */
  get snapshotLoaded(): boolean {
    return this.logLines.some((l) => RDB_LOADED.test(l));
  }

  /** Starts redis-server and resolves with the milliseconds until it accepts connections. */
  async start(): Promise<number> {
    if (this.running) throw new RedisServerError('redis-server is already running');
    fs.mkdirSync(this.opts.dir, { recursive: true });
    if (!this.port) this.port = this.opts.port ?? (await freePort());
    // The pod's launch (with a volume: behind the data-directory lock), plus what only a
    // process on a shared machine needs: its own port on loopback, logs on stdout.
    const launch = redisLaunch(this.opts.plan, this.opts.dir, [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.opts.dir,
      '--daemonize',
      'no',
      '--logfile',
      '',
      ...(this.opts.password ? ['--requirepass', this.opts.password] : []),
      ...(this.opts.tls ? tlsOnlyArgs(this.port, this.opts.tls) : []),
      ...(this.opts.extraArgs ?? []),
    ]);
    this.logLines = [];
    const began = Date.now();
    const [file, ...fileArgs] = launch.command;
    const child = spawn(file, [...fileArgs, ...launch.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.logLines.push(line);
        this.emit('line', line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);

    await new Promise<void>((resolve, reject) => {
      const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
      const timer = setTimeout(() => fail(`did not become ready within ${timeoutMs} ms`), timeoutMs);
      const onLine = (line: string) => {
        if (READY.test(line)) done();
      };
      const onExit = (code: number | null, signal: string | null) =>
        fail(`exited during start (code ${code}, signal ${signal})`);
      const onError = (err: NodeJS.ErrnoException) =>
        fail(err.code === 'ENOENT' ? 'redis-server is not installed (apt-get install redis-server)' : err.message);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('line', onLine);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const fail = (why: string) => {
        cleanup();
        child.kill('SIGKILL');
        const tail = this.logLines.slice(-5).join('\n');
        reject(new RedisServerError(`redis-server on port ${this.port} ${why}${tail ? `:\n${tail}` : ''}`));
      };
      this.on('line', onLine);
      child.once('exit', onExit);
      child.once('error', onError);
    });
    return Date.now() - began;
  }

  /** SIGKILL, as `kubectl delete pod` ends a container that ignores SIGTERM: no chance to flush. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /**
   * A clean shutdown (SIGTERM): Redis flushes its AOF before exiting. Redis refuses to
   * exit when its final save fails (a deleted data dir), so after a grace period it is
   * killed, as the kubelet does after terminationGracePeriodSeconds.
   */
  async stop(graceMs = 10_000): Promise<void> {
    await this.signal('SIGTERM', graceMs);
  }

  /** Kill and start again on the same port and data directory. Resolves with ms until ready. */
  async restart(): Promise<number> {
    await this.kill();
    return this.start();
  }

  /** Removes the data directory: what a fresh, volume-less pod starts with. */
  wipeData(): void {
    if (this.running) throw new RedisServerError('stop redis-server before wiping its data');
    fs.rmSync(this.opts.dir, { recursive: true, force: true });
  }

  private async signal(sig: NodeJS.Signals, graceMs?: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    const timer = graceMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
