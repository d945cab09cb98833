/**
 * `npm run bench [-- --quick] [--json]`: the chat service against a bare baseline,
 * side by side in one run, on this machine. See app/README.md, "Benchmarks and performance".
 *
 * Order: start the stacks (service, node:http baseline, bare Express) → history latency on
 * the fresh service stack → POST matrix (for each connection count: baseline, express,
 * service) → live feed A→B → replica peak RSS → stop → recovery on a fresh persistent stack
 * → live-feed fan-out on a fresh stack (`--fanout`: only this; `--stream-memory`: only the
 * memory per stream). Each phase checks a target (see report.ts). Every process started
 * here is stopped at the end, on error, and on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reportUsageError, UsageError } from '../cli/args';
import { Progress } from '../cli/progress';
import { renderTable } from '../cli/table';
import { RedisServer } from '../local/redis-server';
import { SERVICE_NODE_FLAGS } from '../src/node-flags';
import { parseArgs, planFor, SYNOPSIS, USAGE, type BenchArgs, type Plan } from './args';
import { checkOpenFiles, measureFanout, type FanoutResult } from './fanout';
import { measureFeed } from './feed';
import { measureStreamMemory, type StreamMemoryResult } from './stream-memory';
import { measureHistory } from './history';
import { LoadTally, runLoad, warmUp, type LoadSpec } from './load';
import { CpuMeter, peakRssMb, round1 } from './procfs';
import { measureRecovery } from './recovery';
import {
  fanoutSummary,
  fanoutVerdicts,
  machineLine,
  renderFanout,
  renderReport,
  summarise,
  type BenchResults,
  type MachineInfo,
  type PostRow,
  type Summary,
  type Verdict,
} from './report';
import { startStack, stopAll, stopStack, type BenchStack, type StartOptions } from './stacks';

/** What production runs: every request logged at info. */
const SERVICE_LOG_LEVEL = 'info';
const POST_BODY = JSON.stringify({
  author: 'bench',
  text: 'Hello from the benchmark: a chat line of ordinary length.',
});

function machineInfo(): MachineInfo {
  const v = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    redis: /v=(\S+)/.exec(v)?.[1] ?? 'unknown',
    loadavgBefore: os.loadavg().map(round1),
    loadavgAfter: [],
  };
}

/** How loaded the machine was when the run ended. */
function noteMachineAtEnd(machine: MachineInfo): void {
  machine.loadavgAfter = os.loadavg().map(round1);
}

function cpuMeter(stack: BenchStack, cores: number): CpuMeter {
  return new CpuMeter(
    {
      replicas: () => stack.stack.replicaPids(),
      redis: () => [stack.stack.redis.pid],
      primary: () => [stack.stack.supervisorPid],
      loadgen: () => [process.pid],
    },
    cores,
  );
}

/**
 * POST load at each connection count, the targets interleaved in rounds (baseline,
 * service, …, baseline, service, …) so that load from elsewhere on the machine is
 * shared out evenly; each target's rounds are added up into one row.
 */
async function postMatrix(
  targets: Array<{ name: string; stack: BenchStack }>,
  plan: Plan,
  cores: number,
  progress: Progress,
): Promise<PostRow[]> {
  const rows: PostRow[] = [];
  for (const t of targets) {
    progress.update(`POST ${t.name}: warming the replicas up (${plan.jitWarmupSec} s at 64 connections)`);
    await warmUp(
      {
        url: `${t.stack.url}/api/messages`,
        method: 'POST',
        connections: 64,
        durationSec: 1,
        body: POST_BODY,
        headers: { 'content-type': 'application/json' },
      },
      plan.jitWarmupSec,
    );
  }
  for (const connections of plan.postConnections) {
    const spec = (t: { stack: BenchStack }): LoadSpec => ({
      url: `${t.stack.url}/api/messages`,
      method: 'POST',
      connections,
      durationSec: plan.postRoundSec,
      body: POST_BODY,
      headers: { 'content-type': 'application/json' },
    });
    const tallies = targets.map(() => new LoadTally(connections));
    const meters = targets.map((t) => cpuMeter(t.stack, cores));
    for (const t of targets) {
      progress.update(`POST ${t.name}, ${connections} connection(s): warm-up`);
      await warmUp(spec(t), plan.warmupSec);
    }
    for (let round = 1; round <= plan.postRounds; round++) {
      for (const [i, t] of targets.entries()) {
        progress.update(`POST ${t.name}, ${connections} connection(s), round ${round}/${plan.postRounds}`);
        meters[i].start();
        const sofar = await runLoad(spec(t), tallies[i]);
        meters[i].stop();
        progress.update(
          `POST ${t.name}, ${connections} connection(s), round ${round}/${plan.postRounds}: ${sofar.rps} req/s so far`,
        );
      }
    }
    for (const [i, t] of targets.entries()) rows.push({ target: t.name, ...tallies[i].result(), cpu: meters[i].use() });
  }
  return rows;
}

/**
 * The fan-out phase on a fresh service stack. Every stream comes from 127.0.0.1, so the
 * per-client stream cap is turned off there; the replica-wide cap stays at its default.
 */
async function fanoutPhase(
  start: (opts: Omit<StartOptions, 'replicas' | 'verbose'>) => Promise<BenchStack>,
  plan: Plan,
  cores: number,
  progress: Progress,
): Promise<FanoutResult> {
  progress.update('fan-out: starting a fresh service stack');
  const stack = await start({
    name: 'fanout',
    program: 'service',
    env: { LOG_LEVEL: SERVICE_LOG_LEVEL, MAX_STREAMS_PER_CLIENT: '0' },
  });
  try {
    return await measureFanout(stack, plan.fanout, { cores, onProgress: (w) => progress.update(w) });
  } finally {
    await stopStack(stack);
  }
}

/** Only the fan-out benchmark (`--fanout`). */
interface FanoutRun {
  startedAt: string;
  durationSec: number;
  plan: Plan;
  replicas: number;
  logLevel: string;
  machine: MachineInfo;
  fanout: FanoutResult;
  summary: Partial<Summary>;
  verdicts: Verdict[];
}

async function runFanoutOnly(args: BenchArgs, progress: Progress): Promise<FanoutRun> {
  const plan = planFor(args.quick);
  const began = Date.now();
  const startedAt = new Date().toISOString();
  RedisServer.assertInstalled();
  const machine = machineInfo();
  const fanout = await fanoutPhase(
    (opts) => startStack({ ...opts, replicas: args.replicas, verbose: args.verbose }),
    plan,
    machine.cores,
    progress,
  );
  noteMachineAtEnd(machine);
  return {
    startedAt,
    durationSec: Math.round((Date.now() - began) / 1000),
    plan,
    replicas: fanout.idle.length,
    logLevel: SERVICE_LOG_LEVEL,
    machine,
    fanout,
    summary: fanoutSummary(fanout),
    verdicts: fanoutVerdicts(fanout),
  };
}

/** Only the memory-per-stream ramp (`--stream-memory`), on a one-replica stack. */
async function runStreamMemory(
  args: BenchArgs,
  progress: Progress,
): Promise<{ startedAt: string; machine: MachineInfo; result: StreamMemoryResult }> {
  const plan = planFor(args.quick);
  const startedAt = new Date().toISOString();
  RedisServer.assertInstalled();
  const machine = machineInfo();
  progress.update('stream memory: starting a one-replica stack');
  const stack = await startStack({
    name: 'stream-memory',
    program: 'service',
    replicas: 1,
    verbose: args.verbose,
    env: { LOG_LEVEL: SERVICE_LOG_LEVEL, MAX_STREAMS_PER_CLIENT: '0' },
  });
  try {
    const result = await measureStreamMemory(stack, plan.streamMemory, (w) => progress.update(w));
    noteMachineAtEnd(machine);
    return { startedAt, machine, result };
  } finally {
    await stopStack(stack);
  }
}

function renderStreamMemory(r: { startedAt: string; machine: MachineInfo; result: StreamMemoryResult }): string {
  const x = r.result;
  return [
    `doks-chat stream memory (one replica, node ${SERVICE_NODE_FLAGS.join(' ')}), ${r.startedAt}`,
    machineLine(r.machine),
    '',
    renderTable(
      ['asked', 'open', 'refused', 'RSS MB', 'heap used MB', ''],
      x.points.map((p) => [
        p.asked,
        p.liveFeedClients,
        p.refused,
        p.rssMb.toFixed(1),
        p.heapUsedMb.toFixed(1),
        p.restarted ? 'the replica died and was replaced' : '',
      ]),
      { left: [5] },
    ),
    '',
    `per open stream (least squares over the points where streams were added): heap ${x.perStreamKb.heap} KB, RSS ${x.perStreamKb.rss} KB`,
    `with every stream open, POSTs at 16 connections for ${x.plan.postSec} s: ${x.underLoad.post.rps} POST/s (p99 ${x.underLoad.post.p99Ms} ms, non-2xx ${x.underLoad.post.non2xx}); then RSS ${x.underLoad.memory.rssMb} MB, heap used ${x.underLoad.memory.heapUsedMb} MB; peak RSS ${x.underLoad.peakRssMb} MB`,
  ].join('\n');
}

function renderFanoutRun(r: FanoutRun): string {
  return [
    `doks-chat fan-out benchmark (${r.plan.mode}), ${r.startedAt}, ${r.durationSec} s`,
    machineLine(r.machine),
    `stack: stateful plan, ${r.replicas} replicas behind the cluster primary, RATE_LIMIT_PER_MIN 0, MAX_STREAMS_PER_CLIENT 0, LOG_LEVEL ${r.logLevel}`,
    '',
    renderFanout(r.fanout),
    '',
    ...r.verdicts.map((v) => `${v.pass ? 'PASS' : 'FAIL'}  ${v.target}: ${v.measured}`),
  ].join('\n');
}

async function run(args: BenchArgs, progress: Progress): Promise<BenchResults> {
  const plan = planFor(args.quick);
  const began = Date.now();
  const startedAt = new Date().toISOString();
  RedisServer.assertInstalled();
  const machine = machineInfo();
  const cores = machine.cores;

  progress.update('starting the service stack (redis-server + replicas)');
  // Every stack of the run has the same replica count and verbosity.
  const start = (opts: Omit<StartOptions, 'replicas' | 'verbose'>) =>
    startStack({ ...opts, replicas: args.replicas, verbose: args.verbose });
  const service = await start({
    name: 'service',
    program: 'service',
    env: { LOG_LEVEL: SERVICE_LOG_LEVEL },
  });
  progress.update('starting the baseline stack');
  const baseline = await start({ name: 'baseline', program: 'baseline' });
  progress.update('starting the bare Express stack');
  const bareExpress = await start({ name: 'express', program: 'express' });
  const replicas = service.stack.replicas;
  const historyLimit = service.stack.config.historyLimit;

  const history = await measureHistory(service.stack, service.url, {
    steps: plan.historySteps,
    connections: plan.historyConnections,
    rounds: plan.historyRounds,
    durationSec: plan.historySec,
    warmupSec: plan.warmupSec,
    jitWarmupSec: plan.jitWarmupSec,
    onProgress: (w) => progress.update(w),
  });

  // Peak RSS so far, to tell which phase drives it.
  const peaks = () => service.stack.replicaPids().map((p) => round1(peakRssMb(p) ?? 0));
  const rssAfterHistory = peaks();

  const post = await postMatrix(
    [
      { name: 'baseline', stack: baseline },
      { name: 'express', stack: bareExpress },
      { name: 'service', stack: service },
    ],
    plan,
    cores,
    progress,
  );

  const rssAfterPost = peaks();

  progress.update(`live feed A→B: ${plan.feedMessages} messages`);
  const feed = await measureFeed(service.url, plan.feedMessages, {
    warmup: plan.feedWarmup,
    onProgress: (n) => progress.update(`live feed A→B: ${Math.max(0, n)}/${plan.feedMessages} messages`),
  });

  const rss = {
    serviceReplicasMb: peaks(),
    serviceAfterHistoryMb: rssAfterHistory,
    serviceAfterPostMb: rssAfterPost,
    baselineReplicasMb: baseline.stack.replicaPids().map((p) => round1(peakRssMb(p) ?? 0)),
    expressReplicasMb: bareExpress.stack.replicaPids().map((p) => round1(peakRssMb(p) ?? 0)),
  };

  progress.update('stopping the stacks');
  await Promise.all([stopStack(service), stopStack(baseline), stopStack(bareExpress)]);

  progress.update('recovery: starting a fresh persistent stack');
  const recoveryStack = await start({ name: 'recovery', program: 'service', env: { LOG_LEVEL: SERVICE_LOG_LEVEL } });
  const recovery = await measureRecovery(recoveryStack.stack, recoveryStack.url, {
    held: plan.recoveryHeld,
    onProgress: (w) => progress.update(w),
  });
  await stopStack(recoveryStack);

  const fanout = await fanoutPhase(start, plan, cores, progress);

  noteMachineAtEnd(machine);
  const partial = {
    startedAt,
    durationSec: Math.round((Date.now() - began) / 1000),
    plan,
    replicas,
    historyLimit,
    logLevel: SERVICE_LOG_LEVEL,
    machine,
    post,
    history,
    feed,
    recovery,
    rss,
    fanout,
  };
  return { ...partial, ...summarise(partial) };
}

/** app/bench/results/<timestamp>[-<kind>].json */
function writeResults(startedAt: string, kind: string, results: unknown): string {
  const dir = path.join(__dirname, '..', '..', '..', 'app', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.replace(/[:.]/g, '-')}${kind ? `-${kind}` : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError('bench', SYNOPSIS, err);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const progress = new Progress('bench', { clock: true });
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress.clear();
    process.stderr.write(`${sig}: stopping every process the benchmark started…\n`);
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const plan = planFor(args.quick);
    if (args.streamMemory) checkOpenFiles(plan.streamMemory.upTo, 1);
    else checkOpenFiles(Math.max(...plan.fanout.streams), args.replicas ?? 2);
    if (args.streamMemory) {
      const results = await runStreamMemory(args, progress);
      progress.clear();
      const file = writeResults(results.startedAt, 'stream-memory', results);
      process.stdout.write(`${renderStreamMemory(results)}\n\nfull results: ${path.relative(process.cwd(), file)}\n`);
      return 0;
    }
    if (args.fanout) {
      const results = await runFanoutOnly(args, progress);
      progress.clear();
      const file = writeResults(results.startedAt, 'fanout', results);
      process.stdout.write(`${renderFanoutRun(results)}\n\nfull results: ${path.relative(process.cwd(), file)}\n`);
      if (args.json) process.stdout.write(`${JSON.stringify(results.summary)}\n`);
      return 0;
    }
    const results = await run(args, progress);
    progress.clear();
    const file = writeResults(results.startedAt, '', results);
    process.stdout.write(`${renderReport(results)}\n\nfull results: ${path.relative(process.cwd(), file)}\n`);
    if (args.json) process.stdout.write(`${JSON.stringify(results.summary)}\n`);
    return 0;
  } catch (err) {
    progress.clear();
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    return 1;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
