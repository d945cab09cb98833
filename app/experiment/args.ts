import { APPENDFSYNC_VALUES, type AppendFsync } from '../../infra/persistence';
import { MANAGED_ON_CLUSTER } from './cluster-setup';

/**
 * The experiment's command line:
 *   npm run experiment -- --stack stateless|stateful [--target local|cluster] [--messages N]
 *                         [--cycles K] [--load] [--appendfsync everysec|always] [--json]
 * plus a few options the issue leaves to us (see USAGE).
 */

export type StackName = 'stateless' | 'stateful';
export type TargetKind = 'local' | 'cluster';

export interface ExperimentOptions {
  stack: StackName;
  target: TargetKind;
  /** Messages written before each kill. */
  messages: number;
  cycles: number;
  /** Keep a writer posting through each kill. */
  load: boolean;
  /** Writes per second of the --load writer. */
  rate: number;
  /** Local: Redis's fsync policy. Cluster: what the deployed stack is expected to use. Undefined: the stack's own setting. */
  appendfsync?: AppendFsync;
  json: boolean;
  /** Where the history lives: the Redis pod (default) or the managed service (local: its emulation). */
  redis: 'pod' | 'managed';
  /** --redis managed: seconds between RDB dumps of the emulation (default the service's 600). */
  snapshotSeconds?: number;
  /** Seconds to wait for Redis and the service to come back after each kill. */
  timeoutSeconds: number;
  // local target
  port: number;
  replicas?: number;
  /** Keep Redis's data here instead of a temporary directory (which is removed afterwards). */
  dataDir?: string;
  // cluster target
  url?: string;
  /** Path of a kubeconfig file. */
  kubeconfig?: string;
  namespace: string;
  /** --fault volume-loss: backup, more posts, the data directory deleted, the backup restored (local, stateful). */
  fault?: 'volume-loss';
  help: boolean;
}

export const USAGE = `Usage: npm run experiment -- --stack stateless|stateful [options]

Writes messages through the chat's HTTP API, kills Redis the way
\`kubectl delete pod -l app=redis\` does, waits for Redis and the service to come
back, and counts which acknowledged messages survived. Exit 0 when the outcome is
what the stack promises, 1 when it is not (or the experiment could not run), 2 on
bad arguments.

  --stack stateless|stateful   which stack (required)
  --target local|cluster       local: run the local stack (default); cluster: a deployed stack
  --messages N                 messages written before each kill (default 20)
  --cycles K                   kill/restart cycles (default 3)
  --load                       keep a writer posting through each kill; count acknowledged
                               (201) messages missing afterwards
  --rate R                     writes per second of the --load writer (default 200, at most 2000)
  --appendfsync everysec|always  Redis's fsync policy (stateful only; local: sets it,
                               cluster: states what the deployed stack uses)
  --redis pod|managed          where the history lives (default pod). managed runs the local
                               emulation of DigitalOcean Managed Valkey: TLS-only redis-server,
                               a password, no AOF, RDB dumps on the service's schedule
  --snapshot-seconds S         with --redis managed on stateful: dump every S s instead of the
                               service's 600 (a compressed schedule; the report says so)
  --json                       print one JSON summary as the last line of stdout
  --timeout S                  seconds to wait for recovery after each kill (default 60
                               local, 300 cluster)
  --fault volume-loss          instead of a pod kill: post, take a backup (npm run backup),
                               post more, delete Redis's data directory as pulumi destroy
                               deletes the volume, restore the backup; everything acknowledged
                               before the backup must be back (local target, stateful stack)

Local target:
  --port P                     HTTP port of the local stack (default 0: a free port)
  --replicas R                 chat replicas (default: the stack file's chat:appReplicas)
  --data-dir DIR               keep Redis's data in DIR (default: a temporary directory,
                               removed afterwards; never the .local/<stack> of npm start)

Cluster target (default: the outputs of \`pulumi stack output -s <stack>\`):
  --url URL                    the chat's load balancer URL (stack output "url")
  --kubeconfig FILE            kubeconfig file (stack output "kubeconfig")
  --namespace NS               namespace of redis-deployment (default "default")
`;

export class UsageError extends Error {
  readonly exitCode = 2;
}

const FLAGS = new Set([
  'stack',
  'target',
  'messages',
  'cycles',
  'load',
  'rate',
  'appendfsync',
  'json',
  'timeout',
  'port',
  'replicas',
  'data-dir',
  'url',
  'kubeconfig',
  'namespace',
  'fault',
  'help',
  'redis',
  'snapshot-seconds',
]);
const BOOLEAN = new Set(['load', 'json', 'help']);
const LOCAL_ONLY = ['port', 'replicas', 'data-dir'];
const CLUSTER_ONLY = ['url', 'kubeconfig', 'namespace'];

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return n;
}

export function parseArgs(argv: readonly string[]): ExperimentOptions {
  const seen = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h') {
      seen.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (options start with --; see --help)`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    if (!FLAGS.has(name)) throw new UsageError(`unknown option --${name} (see --help)`);
    if (seen.has(name)) throw new UsageError(`--${name} given twice`);
    if (BOOLEAN.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      seen.set(name, 'true');
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    seen.set(name, value);
  }

  const help = seen.has('help');
  const stackRaw = seen.get('stack');
  if (stackRaw === undefined) {
    if (help) return { ...defaults('stateless', 'local'), help };
    throw new UsageError('--stack is required: --stack stateless or --stack stateful');
  }
  const stack = oneOf<StackName>('stack', stackRaw, ['stateless', 'stateful']);
  const target = oneOf<TargetKind>('target', seen.get('target') ?? 'local', ['local', 'cluster']);

  for (const flag of target === 'local' ? CLUSTER_ONLY : LOCAL_ONLY) {
    if (seen.has(flag))
      throw new UsageError(`--${flag} applies only to --target ${target === 'local' ? 'cluster' : 'local'}`);
  }

  const opts = defaults(stack, target);
  opts.help = help;
  const v = (flag: string) => seen.get(flag);
  if (v('messages') !== undefined) opts.messages = integer('messages', v('messages')!, 1, 10_000);
  if (v('cycles') !== undefined) opts.cycles = integer('cycles', v('cycles')!, 1, 1000);
  if (v('rate') !== undefined) opts.rate = integer('rate', v('rate')!, 1, 2000);
  if (v('timeout') !== undefined) opts.timeoutSeconds = integer('timeout', v('timeout')!, 1, 3600);
  if (v('port') !== undefined) opts.port = integer('port', v('port')!, 0, 65_535);
  if (v('replicas') !== undefined) opts.replicas = integer('replicas', v('replicas')!, 1, 32);
  opts.load = seen.has('load');
  opts.json = seen.has('json');
  if (v('rate') !== undefined && !opts.load) throw new UsageError('--rate applies only with --load');
  if (v('appendfsync') !== undefined) {
    opts.appendfsync = oneOf<AppendFsync>('appendfsync', v('appendfsync')!, APPENDFSYNC_VALUES);
    if (stack === 'stateless') {
      throw new UsageError(
        '--appendfsync applies only to --stack stateful (the stateless stack writes no append-only file)',
      );
    }
  }
  if (v('fault') !== undefined) {
    opts.fault = oneOf<'volume-loss'>('fault', v('fault')!, ['volume-loss']);
    if (target !== 'local') throw new UsageError('--fault volume-loss runs on --target local only');
    if (stack !== 'stateful') {
      throw new UsageError(
        '--fault volume-loss applies only to --stack stateful (a memory-only stack has nothing to back up)',
      );
    }
    if (opts.load) throw new UsageError('--load does not apply to --fault volume-loss');
  }
  if (v('redis') !== undefined) opts.redis = oneOf<'pod' | 'managed'>('redis', v('redis')!, ['pod', 'managed']);
  if (opts.redis === 'managed') {
    if (target === 'cluster') throw new UsageError(`--redis managed with --target cluster: ${MANAGED_ON_CLUSTER}`);
    if (opts.appendfsync !== undefined)
      throw new UsageError(
        '--appendfsync applies only to --redis pod (the managed service writes no append-only file)',
      );
  }
  if (v('snapshot-seconds') !== undefined) {
    if (opts.redis !== 'managed' || stack !== 'stateful') {
      throw new UsageError('--snapshot-seconds applies only to --stack stateful --redis managed (RDB snapshots)');
    }
    opts.snapshotSeconds = integer('snapshot-seconds', v('snapshot-seconds')!, 1, 3600);
  }
  const nonEmpty = (flag: string) => {
    const s = v(flag);
    if (s !== undefined && s.trim() === '') throw new UsageError(`--${flag} must not be empty`);
    return s;
  };
  opts.dataDir = nonEmpty('data-dir');
  opts.kubeconfig = nonEmpty('kubeconfig');
  opts.namespace = nonEmpty('namespace') ?? opts.namespace;
  const url = nonEmpty('url');
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url must be an http(s) URL such as http://203.0.113.10; got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UsageError(`--url must be an http(s) URL such as http://203.0.113.10; got ${JSON.stringify(url)}`);
    }
    opts.url = url;
  }
  return opts;
}

function defaults(stack: StackName, target: TargetKind): ExperimentOptions {
  return {
    stack,
    target,
    messages: 20,
    cycles: 3,
    load: false,
    rate: 200,
    json: false,
    redis: 'pod',
    timeoutSeconds: target === 'local' ? 60 : 300,
    port: 0,
    namespace: 'default',
    help: false,
  };
}
