import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientCommand, ClientReport, OpenResult } from './fanout-client';
import { runLoad, warmUp, type LoadResult } from './load';
import { CpuMeter, peakRssMb, round1, type CpuUse } from './procfs';
import type { BenchStack } from './stacks';

/**
 * Live-feed fan-out: N streams held open across the replicas while messages are posted.
 * For each N (1 000 and 5 000; fewer with --quick), on one stack:
 * 1. open N `GET /api/events` streams, each on its own connection (the cluster primary
 *    deals them out round-robin, as the load balancer does), from a child process
 *    (fanout-client.ts) so that reading them does not share an event loop with the poster;
 * 2. steady: 10 posts a second, each carrying its send time; the delivery latency of
 *    every message to every stream is taken on arrival (p50/p99/max), and every stream
 *    must get every message, once, and all in the same order (Redis's);
 * 3. throughput: autocannon POSTs at full speed with the streams open, the POST rate
 *    that gets through, then how long until every stream has every one of those messages;
 * 4. replica memory with the streams open (RSS and V8 heap used, from each replica's
 *    /metrics), against the same figures before any stream was opened: per stream.
 */
export interface FanoutPlan {
  streams: number[];
  ratePerSec: number;
  steadySec: number;
  postConnections: number;
  postSec: number;
  warmupSec: number;
}

/** What one replica's /metrics says. */
export interface ReplicaMemory {
  replica: string;
  rssMb: number;
  heapUsedMb: number;
  liveFeedClients: number;
  /** Streams dropped as too slow, and live-feed flushes (count, total seconds), since the replica started (NaN before these metrics existed). */
  dropped: number;
  flushes: number;
  flushSeconds: number;
}

export interface FanoutStep {
  streams: number;
  open: number;
  refused: Record<string, number>;
  failed: number;
  byReplica: Record<string, number>;
  openMs: number;
  steady: {
    ratePerSec: number;
    posts: number;
    postFailures: number;
    deliveries: number;
    missing: number;
    duplicates: number;
    reordered: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    endedByServer: number;
  };
  throughput: LoadResult & {
    /** Deliveries of the run's messages to the streams still open, and how many were due. */
    delivered: number;
    due: number;
    minPerStream: number;
    maxPerStream: number;
    /** From the end of the POST run until every open stream had every message (or gave up). */
    drainMs: number;
    endedByServer: number;
    cpu: CpuUse;
  };
  memory: ReplicaMemory[];
  /**
   * The replicas' live-feed flushes in each phase (all replicas: how many, their mean
   * duration) and the streams they dropped as too slow in the step, from /metrics
   * (NaN for code without these metrics).
   */
  flushes: { steady: FlushFigures; throughput: FlushFigures; dropped: number };
  /** (heap used / RSS with the streams − the same with none) / streams on that replica, averaged over the replicas. */
  perStreamKb: { heap: number; rss: number };
  peakRssMb: number[];
}

export interface FlushFigures {
  count: number;
  meanMs: number;
}

/** Flushes between two readings of every replica. */
function flushesBetween(a: ReplicaMemory[], b: ReplicaMemory[]): FlushFigures {
  let count = 0;
  let seconds = 0;
  for (const x of b) {
    const y = a.find((m) => m.replica === x.replica);
    if (!y) continue;
    count += x.flushes - y.flushes;
    seconds += x.flushSeconds - y.flushSeconds;
  }
  return { count, meanMs: count ? Math.round(((seconds * 1000) / count) * 100) / 100 : NaN };
}

const sumDropped = (ms: ReplicaMemory[]) => ms.reduce((n, m) => n + m.dropped, 0);

export interface FanoutResult {
  plan: FanoutPlan;
  idle: ReplicaMemory[];
  steps: FanoutStep[];
}

const CLIENT = path.join(__dirname, 'fanout-client.js');
const POST_HEADERS = { 'content-type': 'application/json' };
const THROUGHPUT_BODY = JSON.stringify({
  author: 'bench',
  text: 'tp# fan-out throughput, a chat line of ordinary length',
});
const now = () => performance.timeOrigin + performance.now();

/** Soft and hard limits on open files of this process (Linux /proc). */
export function openFileLimits(): { soft: number; hard: number } | undefined {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    const n = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return undefined;
  }
}

/**
 * The replicas inherit this process's open-files limit, and node cannot raise it for
 * itself: check it before the stacks start. The clients' process raises its own soft
 * limit to the hard one (a shell's `ulimit -n` before exec).
 */
export function checkOpenFiles(streams: number, replicas: number): void {
  const limits = openFileLimits();
  if (!limits) return;
  const perReplica = Math.ceil(streams / replicas) + 512;
  if (limits.soft < perReplica || limits.hard < streams + 512) {
    throw new Error(
      `the fan-out benchmark holds ${streams} streams (about ${Math.ceil(streams / replicas)} per replica) but this shell allows ` +
        `${limits.soft} open files (hard limit ${limits.hard}): run \`ulimit -n ${streams + 1024}\` first`,
    );
  }
}

/** The fan-out clients' process (fanout-client.ts) and its commands. */
export class FanoutClients {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (msg: unknown) => void>();

  constructor() {
    // Through a shell, to raise the soft open-files limit to the hard one first.
    this.child = spawn(
      '/bin/sh',
      ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, CLIENT],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    this.child.on('message', (msg: { type: string }) => {
      const w = this.waiting.get(msg.type);
      this.waiting.delete(msg.type);
      w?.(msg);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private ask<T>(cmd: ClientCommand, reply: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('the fan-out clients process exited'));
      this.child.once('exit', onExit);
      this.waiting.set(reply, (msg) => {
        this.child.off('exit', onExit);
        resolve(msg as T);
      });
      this.child.send(cmd);
    });
  }

  open(port: number, count: number): Promise<OpenResult> {
    return this.ask({ cmd: 'open', port, count, concurrency: 32, timeoutMs: 10_000 }, 'opened');
  }
  reset(fromSeq: number): Promise<unknown> {
    return this.ask({ cmd: 'reset', fromSeq }, 'reset');
  }
  report(expectedSteady = 0): Promise<ClientReport> {
    return this.ask({ cmd: 'report', expectedSteady }, 'report');
  }
  closeStreams(): Promise<unknown> {
    return this.ask({ cmd: 'close' }, 'closed');
  }
  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** GET on a new connection (so round-robin moves on to the next replica). */
function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Each replica's memory and live-feed clients, from its /metrics (asked on new connections until every replica answered). */
export async function replicaMemory(url: string, replicas: number): Promise<ReplicaMemory[]> {
  const seen = new Map<string, ReplicaMemory>();
  for (let i = 0; i < replicas * 10 && seen.size < replicas; i++) {
    const text = await getText(`${url}/metrics`);
    const metric = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const replica = /replica="([^"]*)"/.exec(text)?.[1] ?? '?';
    seen.set(replica, {
      replica,
      rssMb: round1(metric('process_resident_memory_bytes') / 2 ** 20),
      heapUsedMb: round1(metric('nodejs_heap_size_used_bytes') / 2 ** 20),
      liveFeedClients: metric('chat_live_feed_clients'),
      dropped: metric('chat_live_feed_dropped_total'),
      flushes: metric('chat_live_feed_flush_seconds_count'),
      flushSeconds: metric('chat_live_feed_flush_seconds_sum'),
    });
  }
  return [...seen.values()].sort((a, b) => a.replica.localeCompare(b.replica));
}

/** 10 posts a second (or `rate`), each with its sequence number and send time in its text. */
async function postSteadily(
  url: string,
  rate: number,
  seconds: number,
  firstSeq: number,
): Promise<{ posts: number; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const count = Math.round(rate * seconds);
  const began = performance.now();
  let failures = 0;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = began + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const seq = firstSeq + i;
    const body = JSON.stringify({ author: 'bench', text: `fo#${seq}#${Math.round(now() * 1000)}# fan-out steady` });
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = http.request(
          `${url}/api/messages`,
          { method: 'POST', agent, headers: { ...POST_HEADERS, 'content-length': Buffer.byteLength(body) } },
          (res) => {
            if (res.statusCode !== 201) failures++;
            res.resume();
            res.on('end', resolve);
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
        req.on('error', () => {
          failures++;
          resolve();
        });
        req.end(body);
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { posts: count, failures };
}

export async function measureFanout(
  target: BenchStack,
  plan: FanoutPlan,
  opts: { cores: number; onProgress?: (what: string) => void },
): Promise<FanoutResult> {
  const progress = opts.onProgress ?? (() => {});
  const { stack, url } = target;
  const port = Number(new URL(url).port);
  const clients = new FanoutClients();
  const meter = () =>
    new CpuMeter(
      {
        replicas: () => stack.replicaPids(),
        redis: () => [stack.redis.pid],
        primary: () => [stack.supervisorPid],
        loadgen: () => [process.pid],
        clients: () => [clients.pid],
      },
      opts.cores,
    );
  try {
    progress(`fan-out: warming the replicas up (${plan.warmupSec} s of POSTs, no stream open)`);
    await warmUp(
      {
        url: `${url}/api/messages`,
        method: 'POST',
        connections: plan.postConnections,
        durationSec: 1,
        body: THROUGHPUT_BODY,
        headers: POST_HEADERS,
      },
      plan.warmupSec,
    );
    await sleep(1000);
    const idle = await replicaMemory(url, stack.replicas);
    const steps: FanoutStep[] = [];
    let seq = 0;
    for (const n of plan.streams) {
      progress(`fan-out ${n} streams: opening them`);
      const opened = await clients.open(port, n);
      if (opened.open < n) {
        progress(
          `fan-out ${n} streams: only ${opened.open} opened (refused ${JSON.stringify(opened.refused)}, failed ${opened.failed})`,
        );
      }

      // Steady: a short warm-up at the same rate, not counted, then the measured run.
      progress(`fan-out ${n} streams: ${plan.ratePerSec} posts/s, warm-up`);
      seq += (await postSteadily(url, plan.ratePerSec, 1, seq)).posts;
      await clients.reset(seq);
      const beforeSteady = await replicaMemory(url, stack.replicas);
      progress(`fan-out ${n} streams: ${plan.ratePerSec} posts/s for ${plan.steadySec} s`);
      const steadyPosts = await postSteadily(url, plan.ratePerSec, plan.steadySec, seq);
      seq += steadyPosts.posts;
      const expected = steadyPosts.posts - steadyPosts.failures;
      let steady = await clients.report(expected);
      for (const until = Date.now() + 5000; steady.steady.missing > 0 && Date.now() < until;) {
        await sleep(100);
        steady = await clients.report(expected);
      }

      const afterSteady = await replicaMemory(url, stack.replicas);
      // Throughput: POSTs at full speed with the streams open.
      await clients.reset(seq);
      progress(`fan-out ${n} streams: POSTs at ${plan.postConnections} connections for ${plan.postSec} s`);
      const cpu = meter();
      cpu.start();
      const load = await runLoad({
        url: `${url}/api/messages`,
        method: 'POST',
        connections: plan.postConnections,
        durationSec: plan.postSec,
        body: THROUGHPUT_BODY,
        headers: POST_HEADERS,
      });
      const cpuUse = cpu.stop();
      progress(`fan-out ${n} streams: ${load.rps} POST/s; waiting for every stream to have every message`);
      const drainBegan = performance.now();
      let tput = await clients.report();
      let lastProgress = performance.now();
      let lastDelivered = tput.throughput.deliveries;
      while (tput.throughput.minPerStream < load.ok && performance.now() - lastProgress < 3000) {
        await sleep(100);
        tput = await clients.report();
        if (tput.throughput.deliveries > lastDelivered) {
          lastDelivered = tput.throughput.deliveries;
          lastProgress = performance.now();
        }
      }
      const drainMs = Math.round(performance.now() - drainBegan);

      await sleep(1000);
      const memory = await replicaMemory(url, stack.replicas);
      const perStream = (f: (m: ReplicaMemory) => number) => {
        const xs = memory
          .map((m) => {
            const before = idle.find((i) => i.replica === m.replica);
            return before && m.liveFeedClients > 0 ? ((f(m) - f(before)) * 1024) / m.liveFeedClients : NaN;
          })
          .filter((x) => Number.isFinite(x));
        return xs.length ? round1(xs.reduce((a, b) => a + b, 0) / xs.length) : NaN;
      };
      steps.push({
        streams: n,
        open: opened.open,
        refused: opened.refused,
        failed: opened.failed,
        byReplica: opened.byReplica,
        openMs: opened.ms,
        steady: {
          ratePerSec: plan.ratePerSec,
          posts: steadyPosts.posts,
          postFailures: steadyPosts.failures,
          deliveries: steady.steady.deliveries,
          missing: steady.steady.missing,
          duplicates: steady.steady.duplicates,
          reordered: steady.steady.reordered,
          p50Ms: steady.steady.p50Ms,
          p99Ms: steady.steady.p99Ms,
          maxMs: steady.steady.maxMs,
          endedByServer: steady.endedByServer,
        },
        throughput: {
          ...load,
          delivered: tput.throughput.deliveries,
          due: load.ok * tput.streams,
          minPerStream: tput.throughput.minPerStream,
          maxPerStream: tput.throughput.maxPerStream,
          drainMs,
          endedByServer: tput.endedByServer,
          cpu: cpuUse,
        },
        memory,
        flushes: {
          steady: flushesBetween(beforeSteady, afterSteady),
          throughput: flushesBetween(afterSteady, memory),
          dropped: sumDropped(memory) - sumDropped(beforeSteady),
        },
        perStreamKb: { heap: perStream((m) => m.heapUsedMb), rss: perStream((m) => m.rssMb) },
        peakRssMb: stack.replicaPids().map((p) => round1(peakRssMb(p) ?? 0)),
      });
      progress(`fan-out ${n} streams: closing them`);
      await clients.closeStreams();
      await sleep(1000);
    }
    return { plan, idle, steps };
  } finally {
    clients.stop();
  }
}
