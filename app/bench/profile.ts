import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a replica's CPU time went, from the .cpuprofile files `node --cpu-prof` writes
 * on exit: self time per function and per origin (a package in node_modules, Node's
 * internals, the service's own code, garbage collection), biggest first.
 * `node dist/app/bench/profile.js <dir-or-file>...` prints the same summary by hand.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** Packages grouped by the job they do in a request, for the "what binds" summary. */
const CONCERNS: Record<string, string[]> = {
  'HTTP framework (Express 5, its router and body-parser)': [
    'express',
    'router',
    'body-parser',
    'raw-body',
    'iconv-lite',
    'safer-buffer',
    'bytes',
    'content-type',
    'type-is',
    'media-typer',
    'mime-types',
    'mime-db',
    'accepts',
    'negotiator',
    'qs',
    'path-to-regexp',
    'parseurl',
    'finalhandler',
    'on-finished',
    'ee-first',
    'proxy-addr',
    'forwarded',
    'ipaddr.js',
    'fresh',
    'etag',
    'send',
    'serve-static',
    'encodeurl',
    'escape-html',
    'range-parser',
    'content-disposition',
    'cookie',
    'cookie-signature',
    'vary',
    'merge-descriptors',
    'http-errors',
    'statuses',
    'depd',
    'setprototypeof',
    'inherits',
    'toidentifier',
    'debug',
    'ms',
    'is-promise',
    'once',
    'wrappy',
    'unpipe',
    'utils-merge',
    'methods',
    'call-bind-apply-helpers',
    'call-bound',
    'get-intrinsic',
    'side-channel',
    'side-channel-list',
    'side-channel-map',
    'side-channel-weakmap',
    'object-inspect',
    'es-errors',
    'function-bind',
    'hasown',
    'gopd',
    'es-object-atoms',
    'dunder-proto',
    'math-intrinsics',
    'has-symbols',
    'get-proto',
    'es-define-property',
  ],
  'request logging (pino)': [
    'pino',
    'pino-std-serializers',
    'sonic-boom',
    'quick-format-unescaped',
    'thread-stream',
    'fast-redact',
    'safe-stable-stringify',
    'on-exit-leak-free',
    'atomic-sleep',
    'get-caller-file',
  ],
  'Redis client (ioredis)': [
    'ioredis',
    'redis-parser',
    'redis-errors',
    'denque',
    'cluster-key-slot',
    'standard-as-callback',
    'lodash.defaults',
    'lodash.isarguments',
  ],
  'security headers (helmet)': ['helmet'],
  'metrics (prom-client)': ['prom-client', 'tdigest', 'bintrees'],
  'validation (zod)': ['zod'],
  'rate limit (express-rate-limit)': ['express-rate-limit', 'ip-address'],
  'chat code (app/src: routes, ChatStore, …; the baseline servers)': [
    'app/src',
    'baseline-server',
    'express-baseline',
    'baseline-common',
  ],
  'garbage collection': ['(garbage collector)'],
  'Node internals (http, net, streams) with no package above': ['node internals', '(native)', '(program)', '(root)'],
  'profiler and bench wrapper': ['app/bench', 'app/local'],
};
const CONCERN_OF = new Map(Object.entries(CONCERNS).flatMap(([c, pkgs]) => pkgs.map((p) => [p, c] as const)));

export interface ProfileSummary {
  files: number;
  totalMs: number;
  byOrigin: Array<{ origin: string; pct: number }>;
  /**
   * Self time charged to the nearest caller in a package or in our code: native and
   * Node-internal work (socket writes, JSON, buffers) is billed to whoever asked for
   * it, e.g. a pipe write under sonic-boom counts as logging.
   */
  byCaller: Array<{ origin: string; pct: number }>;
  /** byCaller grouped by the job the package does (framework, logging, Redis client, …). */
  byConcern: Array<{ concern: string; pct: number }>;
  topFunctions: Array<{ fn: string; pct: number }>;
}

function origin(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node internals';
  const baselineFile = /\/dist\/app\/bench\/(baseline-server|express-baseline|baseline-common)\./.exec(url);
  if (baselineFile) return baselineFile[1];
  const m = /\/dist\/(app\/src|app\/local|app\/bench)\//.exec(url);
  return m ? m[1] : url;
}

export function summariseProfiles(paths: string[], top = 15): ProfileSummary {
  const files = paths.flatMap((p) =>
    fs.statSync(p).isDirectory()
      ? fs
          .readdirSync(p)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => path.join(p, f))
      : [p],
  );
  const byOrigin = new Map<string, number>();
  const byCaller = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const callerOf = (id: number): string => {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = nodes.get(cur)!.callFrame;
        const o = origin(f.url, f.functionName);
        if (f.url && o !== 'node internals') return o;
      }
      return origin(nodes.get(id)!.callFrame.url, nodes.get(id)!.callFrame.functionName);
    };
    const self = new Map<number, number>();
    const samples = prof.samples ?? [];
    const deltas = prof.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (deltas[i] ?? 0));
    for (const [id, us] of self) {
      const n = nodes.get(id)!;
      const fn = n.callFrame.functionName || '(anonymous)';
      if (fn === '(idle)') continue; // waiting for I/O is not work
      const o = origin(n.callFrame.url, fn);
      const where = n.callFrame.url ? `${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
      byOrigin.set(o, (byOrigin.get(o) ?? 0) + us);
      const c = callerOf(id);
      byCaller.set(c, (byCaller.get(c) ?? 0) + us);
      const key = `${fn} ${where ? `(${o}: ${where})` : ''}`.trim();
      byFn.set(key, (byFn.get(key) ?? 0) + us);
      total += us;
    }
  }
  const pct = (us: number) => Math.round((1000 * us) / Math.max(1, total)) / 10;
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    files: files.length,
    totalMs: Math.round(total / 1000),
    byOrigin: sorted(byOrigin)
      .slice(0, top)
      .map(([o, us]) => ({ origin: o, pct: pct(us) })),
    byCaller: sorted(byCaller)
      .slice(0, top)
      .map(([o, us]) => ({ origin: o, pct: pct(us) })),
    byConcern: sorted(
      [...byCaller].reduce((m, [o, us]) => {
        const c = CONCERN_OF.get(o) ?? `other: ${o}`;
        return m.set(c, (m.get(c) ?? 0) + us);
      }, new Map<string, number>()),
    ).map(([concern, us]) => ({ concern, pct: pct(us) })),
    topFunctions: sorted(byFn)
      .slice(0, top)
      .map(([fn, us]) => ({ fn, pct: pct(us) })),
  };
}

export function renderProfile(s: ProfileSummary): string {
  return [
    `CPU profile of ${s.files} process(es): ${s.totalMs} ms busy (idle excluded); self time by origin:`,
    ...s.byOrigin.map((o) => `  ${String(o.pct).padStart(5)}%  ${o.origin}`),
    'self time charged to the nearest package or app frame above it (native and Node-internal work billed to its caller):',
    ...s.byCaller.map((o) => `  ${String(o.pct).padStart(5)}%  ${o.origin}`),
    'the same, by the job it does in a request:',
    ...s.byConcern.map((o) => `  ${String(o.pct).padStart(5)}%  ${o.concern}`),
    'top functions by self time:',
    ...s.topFunctions.map((f) => `  ${String(f.pct).padStart(5)}%  ${f.fn}`),
  ].join('\n');
}

if (require.main === module) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    process.stderr.write('usage: node dist/app/bench/profile.js <dir-or-.cpuprofile>...\n');
    process.exit(2);
  }
  process.stdout.write(`${renderProfile(summariseProfiles(paths, 25))}\n`);
}
