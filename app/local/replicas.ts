/**
 * The local "Deployment + load balancer": a Node `cluster` primary that runs N chat
 * replicas (dist/app/src/main.js) on one port. The primary accepts connections and
 * hands them to the workers round-robin, as the DigitalOcean load balancer spreads
 * connections over the pods; a worker that dies unexpectedly is started again, as a
 * ReplicaSet replaces a pod (with a growing delay if it keeps crashing).
 *
 * It runs as its own process, started by LocalStack with an IPC channel, so that
 * jest, the experiment and the benchmarks never become a cluster primary themselves.
 * It reports to its parent over IPC (ReplicasMessage) and writes each worker's
 * output to stdout as `[replica-N] <line>` (or lets them write to a log file). SIGTERM, or its parent going away,
 * makes it SIGTERM every replica (the pods' graceful shutdown) and exit.
 */
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import { onLines } from './processes';
import { SERVICE_NODE_FLAGS } from '../src/node-flags';

export interface ReplicasConfig {
  /** The replica program. */
  main: string;
  replicas: number;
  /** Env for every replica; REPLICA_NAME is added per replica. */
  env: Record<string, string>;
  /**
   * Replicas append their output straight to this file, as a container runtime
   * captures a pod's stdout, instead of through this process as `[replica-N] <line>`
   * (the benchmarks use it: relaying every request's log line costs CPU a pod does not pay).
   */
  logFile?: string;
}

/** Passed from LocalStack in this environment variable, as JSON. */
export const REPLICAS_CONFIG_ENV = 'LOCAL_STACK_REPLICAS_CONFIG';

export type ReplicasMessage =
  | { type: 'listening'; replica: string; pid: number }
  | { type: 'ready'; pids: number[] }
  | { type: 'exit'; replica: string; pid: number; code: number | null; signal: string | null; restartInMs: number }
  | { type: 'fatal'; message: string };

/** How long a replica gets to exit after SIGTERM before SIGKILL (the pod's grace period is 30 s; the service promises 10 s). */
const GRACE_MS = 12_000;
/** A replica that ran this long is "healthy again": its crash back-off resets. */
const STABLE_MS = 10_000;

interface Slot {
  name: string;
  worker?: Worker;
  startedAt: number;
  listening: boolean;
  crashes: number;
  tail: string[];
}

/** A pino JSON line as its message (the stack trace stays in the full log); other lines as they are. */
function readable(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: unknown };
    if (typeof entry.msg === 'string') return entry.msg;
  } catch {
    /* not JSON */
  }
  return line;
}

/** The end of a log file (all replicas' lines, interleaved). */
function lastLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-8);
  } catch {
    return [];
  }
}

function main(): void {
  const config = JSON.parse(process.env[REPLICAS_CONFIG_ENV] ?? 'null') as ReplicasConfig | null;
  if (!config) {
    process.stderr.write(`replicas: ${REPLICAS_CONFIG_ENV} is not set; this program is started by LocalStack\n`);
    process.exit(2);
  }
  delete process.env[REPLICAS_CONFIG_ENV];

  const send = (msg: ReplicasMessage) => {
    if (process.connected) process.send!(msg);
  };

  // Round-robin in the primary on every platform (Windows defaults to OS scheduling).
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const logFd = config.logFile === undefined ? undefined : fs.openSync(config.logFile, 'a');
  cluster.setupPrimary({
    exec: config.main,
    execArgv: [...SERVICE_NODE_FLAGS],
    ...(logFd === undefined ? { silent: true } : { stdio: ['ignore', logFd, logFd, 'ipc'] }),
  });

  const slots: Slot[] = Array.from({ length: config.replicas }, (_, i) => ({
    name: `replica-${i + 1}`,
    startedAt: 0,
    listening: false,
    crashes: 0,
    tail: [],
  }));
  let ready = false;
  let stopping = false;

  const fork = (slot: Slot) => {
    if (stopping) return;
    const worker = cluster.fork({ ...config.env, REPLICA_NAME: slot.name });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listening = false;
    slot.tail = [];
    const relay = (line: string) => {
      slot.tail.push(line);
      if (slot.tail.length > 20) slot.tail.shift();
      process.stdout.write(`[${slot.name}] ${line}\n`);
    };
    if (logFd === undefined) {
      onLines(worker.process.stdout!, relay);
      onLines(worker.process.stderr!, relay);
    }
    worker.on('listening', () => {
      slot.listening = true;
      send({ type: 'listening', replica: slot.name, pid: worker.process.pid! });
      if (!ready && slots.every((s) => s.listening)) {
        ready = true;
        send({ type: 'ready', pids: slots.map((s) => s.worker!.process.pid!) });
      }
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      if (stopping) return;
      if (!ready && !slot.listening && signal === null && code !== 0) {
        // Failing on its own before it ever served (bad config, port taken, missing
        // build): a restart would fail the same way, so report it instead of looping.
        // (Killed by a signal from outside, it is simply replaced, as below.)
        const why = (config.logFile === undefined ? slot.tail : lastLines(config.logFile))
          .slice(-8)
          .map(readable)
          .join('\n');
        shutdown(1, `${slot.name} exited (code ${code}) before listening${why ? `:\n${why}` : ''}`);
        return;
      }
      slot.crashes = Date.now() - slot.startedAt > STABLE_MS ? 1 : slot.crashes + 1;
      const restartInMs = Math.min(10_000, 100 * 2 ** (slot.crashes - 1));
      send({ type: 'exit', replica: slot.name, pid: worker.process.pid!, code, signal, restartInMs });
      setTimeout(() => fork(slot), restartInMs);
    });
  };

  const shutdown = (exitCode: number, fatal?: string) => {
    if (stopping) return;
    stopping = true;
    if (fatal) send({ type: 'fatal', message: fatal });
    const live = slots.map((s) => s.worker).filter((w): w is Worker => !!w && !w.isDead());
    const exited = live.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    for (const w of live) w.process.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const w of live) if (!w.isDead()) w.process.kill('SIGKILL');
    }, GRACE_MS);
    void Promise.all(exited).then(() => {
      clearTimeout(force);
      process.exit(exitCode);
    });
  };

  process.on('SIGTERM', () => shutdown(0));
  // Started in its own process group, so a terminal's Ctrl-C does not reach it or
  // the replicas; the parent decides when to stop. Ignore a stray SIGINT.
  process.on('SIGINT', () => {});
  // The parent (npm start, a test, the experiment) went away: no orphans.
  process.on('disconnect', () => shutdown(0));

  for (const slot of slots) fork(slot);
}

if (require.main === module) main();
