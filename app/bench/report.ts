import { renderTable as table } from '../cli/table';
import type { Plan } from './args';
import type { FanoutResult, FanoutStep } from './fanout';
import type { FeedResult } from './feed';
import type { HistoryStep } from './history';
import type { LoadResult } from './load';
import type { CpuUse } from './procfs';
import type { RecoveryResult } from './recovery';

/** Everything one run measured; written whole to app/bench/results/<timestamp>.json. */
export interface PostRow extends LoadResult {
  target: string;
  cpu: CpuUse;
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  node: string;
  redis: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
}

/** Where the figures come from: the machine and how busy it was, at the start and the end. */
export function machineLine(m: MachineInfo): string {
  const load = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  return `machine: ${m.cores} cores (${m.cpuModel}), node ${m.node}, redis ${m.redis}; load average ${load(m.loadavgBefore)} at start, ${load(m.loadavgAfter)} at end`;
}

export interface BenchResults {
  startedAt: string;
  durationSec: number;
  plan: Plan;
  replicas: number;
  historyLimit: number;
  logLevel: string;
  machine: MachineInfo;
  post: PostRow[];
  history: HistoryStep[];
  feed: FeedResult;
  recovery: RecoveryResult[];
  /** VmHWM of each replica at the end, and of the service's replicas after the history and the POST phases. */
  rss: {
    serviceReplicasMb: number[];
    serviceAfterHistoryMb: number[];
    serviceAfterPostMb: number[];
    baselineReplicasMb: number[];
    expressReplicasMb: number[];
  };
  /** Live-feed fan-out: thousands of streams open while messages are posted. */
  fanout?: FanoutResult;
  summary: Summary;
  verdicts: Verdict[];
}

/** The headline figures, POST at 64 connections. */
export interface Summary {
  postRps: number;
  /** The bare node:http baseline, and service ÷ it (reported, no target). */
  baselinePostRps: number;
  ratio: number;
  /** Bare Express 5 + express.json(), and service ÷ it (target ≥ 0.8). */
  frameworkBaselinePostRps: number;
  frameworkRatio: number;
  postP99Ms: number;
  feedP99Ms: number;
  historyP99Ms: Record<string, number>;
  recoveryMs: Record<string, number>;
  rssMb: number;
  /** With the most fan-out streams: p99 delivery at 10 posts/s, and the POST rate that got through. */
  fanoutStreams?: number;
  fanoutP99Ms?: number;
  fanoutPostRps?: number;
}

export interface Verdict {
  target: string;
  measured: string;
  pass: boolean;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function summarise(r: Omit<BenchResults, 'summary' | 'verdicts'>): { summary: Summary; verdicts: Verdict[] } {
  const at64 = (target: string) => r.post.find((p) => p.target === target && p.connections === 64);
  const service = at64('service');
  const baseline = at64('baseline');
  const postRps = service?.rps ?? 0;
  const baselinePostRps = baseline?.rps ?? 0;
  const ratio = baselinePostRps ? round2(postRps / baselinePostRps) : 0;
  const frameworkBaselinePostRps = at64('express')?.rps ?? 0;
  const frameworkRatio = frameworkBaselinePostRps ? round2(postRps / frameworkBaselinePostRps) : 0;
  const historyP99Ms = Object.fromEntries(r.history.map((h) => [String(h.written), h.p99Ms]));
  const recoveryMs = Object.fromEntries(r.recovery.map((x) => [String(x.held), x.allMs]));
  const rssMb = round2(Math.max(0, ...r.rss.serviceReplicasMb));
  const summary: Summary = {
    postRps,
    baselinePostRps,
    ratio,
    frameworkBaselinePostRps,
    frameworkRatio,
    postP99Ms: service?.p99Ms ?? NaN,
    feedP99Ms: r.feed.p99Ms,
    historyP99Ms,
    recoveryMs,
    rssMb,
    ...fanoutSummary(r.fanout),
  };
  const hp = r.history.map((h) => h.p99Ms);
  const spread = hp.length ? Math.max(...hp) / Math.min(...hp) : NaN;
  const rec100k = r.recovery.find((x) => x.held === 100_000);
  const verdicts: Verdict[] = [
    {
      target: 'POST throughput ≥ 0.8× bare Express at 64 connections',
      measured: `${frameworkRatio}× (node:http baseline: ${ratio}×, no target)`,
      pass: frameworkRatio >= 0.8,
    },
    {
      target: 'live-feed p99 ≤ 50 ms',
      measured: `${summary.feedP99Ms} ms (${r.feed.lost} lost)`,
      pass: summary.feedP99Ms <= 50 && r.feed.lost === 0,
    },
    {
      target: 'history p99 within 2× from 10 to 100 000 written',
      measured: `${round2(spread)}× (${hp.join(' / ')} ms)`,
      pass: spread <= 2,
    },
    {
      target: 'recovery ≤ 2 s with 100 000 messages',
      measured: rec100k ? `${rec100k.allMs} ms (${rec100k.recovered.toLocaleString('en')} back)` : 'not measured',
      pass: !!rec100k && rec100k.allMs <= 2000 && rec100k.recovered === rec100k.held,
    },
    { target: 'replica peak RSS ≤ 150 MB', measured: `${rssMb} MB`, pass: rssMb > 0 && rssMb <= 150 },
    ...fanoutVerdicts(r.fanout),
  ];
  return { summary, verdicts };
}

/** The step with the most streams. */
function largest(f: FanoutResult | undefined): FanoutStep | undefined {
  return f?.steps.reduce<FanoutStep | undefined>((a, b) => (!a || b.streams > a.streams ? b : a), undefined);
}

export function fanoutSummary(
  f: FanoutResult | undefined,
): Pick<Summary, 'fanoutStreams' | 'fanoutP99Ms' | 'fanoutPostRps'> {
  const top = largest(f);
  return top ? { fanoutStreams: top.open, fanoutP99Ms: top.steady.p99Ms, fanoutPostRps: top.throughput.rps } : {};
}

export function fanoutVerdicts(f: FanoutResult | undefined): Verdict[] {
  const top = largest(f);
  if (!f || !top) return [];
  const s = top.steady;
  return [
    {
      target: `fan-out: p99 delivery ≤ 250 ms at ${s.ratePerSec} posts/s with ${top.streams} streams, every message to every stream once, in order`,
      measured: `${s.p99Ms} ms (${top.open} open, ${s.missing} missing, ${s.duplicates} duplicated, ${s.reordered} streams out of order)`,
      pass: top.open === top.streams && s.p99Ms <= 250 && s.missing === 0 && s.duplicates === 0 && s.reordered === 0,
    },
  ];
}

const perReplica = (m: Record<string, number>) =>
  Object.entries(m)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

export function renderFanout(f: FanoutResult): string {
  const p = f.plan;
  const out = [
    `live-feed fan-out: N streams across the replicas; steady ${p.ratePerSec} posts/s for ${p.steadySec} s (latency from sending the POST until a stream has the message, over every message × stream); then POSTs at ${p.postConnections} connections for ${p.postSec} s with the streams open`,
    table(
      [
        'streams',
        'open',
        'p50 ms',
        'p99 ms',
        'max ms',
        'missing',
        'dup',
        'reordered',
        'POST/s',
        'POST p99 ms',
        'drain ms',
        'all delivered',
        'dropped',
        'CPU %',
      ],
      f.steps.map((s) => [
        s.streams,
        s.open,
        s.steady.p50Ms,
        s.steady.p99Ms,
        s.steady.maxMs,
        s.steady.missing,
        s.steady.duplicates,
        s.steady.reordered,
        s.throughput.rps,
        s.throughput.p99Ms,
        s.throughput.drainMs,
        s.throughput.minPerStream >= s.throughput.ok
          ? 'yes'
          : `no (min ${s.throughput.minPerStream}/${s.throughput.ok})`,
        s.steady.endedByServer + s.throughput.endedByServer,
        cpuText(s.throughput.cpu),
      ]),
    ),
    'live-feed flushes (one write to every stream of a replica; all replicas, from /metrics): how many, mean ms each; streams dropped as too slow',
    table(
      ['streams', 'steady flushes', 'mean ms', 'throughput flushes', 'mean ms', 'dropped'],
      f.steps.map((s) => [
        s.streams,
        s.flushes?.steady.count ?? '',
        s.flushes?.steady.meanMs ?? '',
        s.flushes?.throughput.count ?? '',
        s.flushes?.throughput.meanMs ?? '',
        s.flushes?.dropped ?? '',
      ]),
    ),
    'replica memory (from each replica\'s /metrics; "idle": before any stream, after the warm-up)',
    table(
      ['streams', 'per replica', 'RSS MB', 'heap used MB', 'per stream: heap KB', 'RSS KB', 'peak RSS MB'],
      [
        ['idle', '', f.idle.map((m) => m.rssMb).join(', '), f.idle.map((m) => m.heapUsedMb).join(', '), '', '', ''],
        ...f.steps.map((s) => [
          s.streams,
          perReplica(s.byReplica),
          s.memory.map((m) => m.rssMb).join(', '),
          s.memory.map((m) => m.heapUsedMb).join(', '),
          s.perStreamKb.heap,
          s.perStreamKb.rss,
          s.peakRssMb.join(', '),
        ]),
      ],
    ),
  ];
  for (const s of f.steps) {
    if (s.open < s.streams)
      out.push(
        `${s.streams} streams: only ${s.open} opened (refused ${JSON.stringify(s.refused)}, failed ${s.failed})`,
      );
  }
  return out.join('\n');
}

const cpuText = (c: CpuUse) =>
  Object.entries(c.byGroup)
    .map(([k, v]) => `${k} ${Math.round(v)}`)
    .join(', ') + (c.otherPct !== undefined ? `, other ${Math.round(c.otherPct)}` : '');

const mb = (xs: number[]) => `${xs.map((x) => x.toFixed(1)).join(', ')} MB`;

export function renderReport(r: BenchResults): string {
  const out: string[] = [];
  out.push(
    `doks-chat benchmarks (${r.plan.mode}), ${r.startedAt}, ${r.durationSec} s`,
    machineLine(r.machine),
    `stacks: stateful plan (AOF, appendfsync everysec), ${r.replicas} replicas behind the cluster primary, HISTORY_LIMIT ${r.historyLimit}, RATE_LIMIT_PER_MIN 0, service LOG_LEVEL ${r.logLevel}`,
    '',
    `POST /api/messages (${r.plan.postRounds} × ${r.plan.postRoundSec} s per target, interleaved; warm-up ${r.plan.jitWarmupSec} s per stack, then ${r.plan.warmupSec} s before each connection count; CPU in % of one core)`,
    table(
      ['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'CPU %'],
      r.post.map((p) => [
        p.target,
        p.connections,
        p.rps,
        p.p50Ms,
        p.p99Ms,
        p.non2xx,
        p.errors + p.timeouts,
        cpuText(p.cpu),
      ]),
    ),
  );
  const ratios = (against: string) =>
    r.plan.postConnections.map((c) => {
      const s = r.post.find((p) => p.target === 'service' && p.connections === c);
      const b = r.post.find((p) => p.target === against && p.connections === c);
      return s && b && b.rps ? `${c}: ${round2(s.rps / b.rps)}×` : `${c}: n/a`;
    });
  out.push(`service / bare Express throughput by connections: ${ratios('express').join(', ')}`);
  out.push(`service / node:http baseline throughput by connections: ${ratios('baseline').join(', ')}`);
  const perReq = (target: string) => {
    const row = r.post.find((p) => p.target === target && p.connections === 64);
    return row && row.ok ? (row.cpu.byGroup.replicas * row.durationSec * 10) / row.ok : NaN;
  };
  const [svcMs, expMs, baseMs] = [perReq('service'), perReq('express'), perReq('baseline')];
  out.push(
    `replica CPU per POST at 64 connections (from /proc): service ${svcMs.toFixed(3)} ms, bare Express ${expMs.toFixed(3)} ms, node:http baseline ${baseMs.toFixed(3)} ms`,
    '',
  );
  out.push(
    `GET /api/messages (the page's request: the last ${r.historyLimit}) after N messages ever written (${r.plan.historyConnections} connections, ${r.plan.historyRounds} × ${r.plan.historySec} s; p50/p99: medians of the rounds')`,
    table(
      ['written', 'in list', 'req/s', 'p50 ms', 'p99 ms', "rounds' p99 ms", 'non-2xx'],
      r.history.map((h) => [
        h.written,
        h.listLength,
        h.rps,
        h.p50Ms,
        h.p99Ms,
        h.roundP99Ms.join(' / '),
        h.non2xx + h.errors,
      ]),
    ),
    '',
    `live feed A→B over ${r.feed.messages} messages (replicas ${r.feed.replicas.join(', ')}): p50 ${r.feed.p50Ms} ms, p99 ${r.feed.p99Ms} ms, max ${r.feed.maxMs} ms, lost ${r.feed.lost}`,
    '',
    'recovery after SIGKILL of Redis (from the kill until GET /readyz and GET /api/messages answer 200)',
    table(
      ['held', 'AOF MB', 'redis up ms', 'first replica ms', 'all replicas ms', 'AOF loaded', 'messages back'],
      r.recovery.map((x) => [
        x.held,
        x.aofMb,
        x.redisRestartMs,
        x.firstMs,
        x.allMs,
        x.aofLoaded ? 'yes' : 'no',
        x.recovered,
      ]),
    ),
    '',
    `peak RSS (VmHWM) per replica: service ${mb(r.rss.serviceReplicasMb)} (after the history phase ${mb(r.rss.serviceAfterHistoryMb)}, after POST ${mb(r.rss.serviceAfterPostMb)}); bare Express ${mb(r.rss.expressReplicasMb)}; node:http baseline ${mb(r.rss.baselineReplicasMb)}`,
    '',
    ...(r.fanout ? [renderFanout(r.fanout), ''] : []),
    'targets',
    table(
      ['target', 'measured', 'result'],
      r.verdicts.map((v) => [v.target, v.measured, v.pass ? 'PASS' : 'FAIL']),
    ),
  );
  return out.join('\n');
}
