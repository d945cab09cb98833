import { APPENDFSYNC_VALUES, type AppendFsync } from '../../infra/persistence';
import { MANAGED_ON_CLUSTER } from './cluster-setup';
import { nonEmpty, oneOf, parseCommandLine, UsageError, wholeNumber } from '../cli/args';
import { STACK_NAMES, type StackName } from '../local/stack-config';

/**
 * The experiment's command line:
 *   npm run experiment -- --stack stateless|stateful [--target local|cluster] [--messages N]
 *                         [--cycles K] [--load] [--appendfsync everysec|always] [--json]
 * plus a few options the issue leaves to us (see USAGE).
 */

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

/** How to call it, in one line (with a usage error). */
export const SYNOPSIS =
  'npm run experiment -- --stack stateless|stateful [--target local|cluster] [--messages N] [--cycles K] [--load] [--appendfsync everysec|always] [--json]';

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

const OPTIONS = {
  stack: { type: 'string' },
  target: { type: 'string' },
  messages: { type: 'string' },
  cycles: { type: 'string' },
  load: { type: 'boolean' },
  rate: { type: 'string' },
  appendfsync: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  port: { type: 'string' },
  replicas: { type: 'string' },
  'data-dir': { type: 'string' },
  url: { type: 'string' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  fault: { type: 'string' },
  redis: { type: 'string' },
  'snapshot-seconds': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const LOCAL_ONLY = ['port', 'replicas', 'data-dir'] as const;
const CLUSTER_ONLY = ['url', 'kubeconfig', 'namespace'] as const;

export function parseArgs(argv: readonly string[]): ExperimentOptions {
  const given = parseCommandLine(argv, OPTIONS);
  const help = given.help === true;
  if (given.stack === undefined) {
    if (help) return { ...defaults('stateless', 'local'), help };
    throw new UsageError('--stack is required: --stack stateless or --stack stateful');
  }
  const stack = oneOf<StackName>('stack', given.stack, STACK_NAMES);
  const target = oneOf<TargetKind>('target', given.target ?? 'local', ['local', 'cluster']);

  for (const flag of target === 'local' ? CLUSTER_ONLY : LOCAL_ONLY) {
    if (given[flag] !== undefined)
      throw new UsageError(`--${flag} applies only to --target ${target === 'local' ? 'cluster' : 'local'}`);
  }

  const opts = defaults(stack, target);
  opts.help = help;
  if (given.messages !== undefined) opts.messages = wholeNumber('messages', given.messages, 1, 10_000);
  if (given.cycles !== undefined) opts.cycles = wholeNumber('cycles', given.cycles, 1, 1000);
  if (given.rate !== undefined) opts.rate = wholeNumber('rate', given.rate, 1, 2000);
  if (given.timeout !== undefined) opts.timeoutSeconds = wholeNumber('timeout', given.timeout, 1, 3600);
  if (given.port !== undefined) opts.port = wholeNumber('port', given.port, 0, 65_535);
  if (given.replicas !== undefined) opts.replicas = wholeNumber('replicas', given.replicas, 1, 32);
  opts.load = given.load === true;
  opts.json = given.json === true;
  if (given.rate !== undefined && !opts.load) throw new UsageError('--rate applies only with --load');
  if (given.appendfsync !== undefined) {
    opts.appendfsync = oneOf('appendfsync', given.appendfsync, APPENDFSYNC_VALUES);
    if (stack === 'stateless') {
      throw new UsageError(
        '--appendfsync applies only to --stack stateful (the stateless stack writes no append-only file)',
      );
    }
  }
  if (given.fault !== undefined) {
    opts.fault = oneOf<'volume-loss'>('fault', given.fault, ['volume-loss']);
    if (target !== 'local') throw new UsageError('--fault volume-loss runs on --target local only');
    if (stack !== 'stateful') {
      throw new UsageError(
        '--fault volume-loss applies only to --stack stateful (a memory-only stack has nothing to back up)',
      );
    }
    if (opts.load) throw new UsageError('--load does not apply to --fault volume-loss');
  }
  if (given.redis !== undefined) opts.redis = oneOf<'pod' | 'managed'>('redis', given.redis, ['pod', 'managed']);
  if (opts.redis === 'managed') {
    if (target === 'cluster') throw new UsageError(`--redis managed with --target cluster: ${MANAGED_ON_CLUSTER}`);
    if (opts.appendfsync !== undefined)
      throw new UsageError(
        '--appendfsync applies only to --redis pod (the managed service writes no append-only file)',
      );
  }
  if (given['snapshot-seconds'] !== undefined) {
    if (opts.redis !== 'managed' || stack !== 'stateful') {
      throw new UsageError('--snapshot-seconds applies only to --stack stateful --redis managed (RDB snapshots)');
    }
    opts.snapshotSeconds = wholeNumber('snapshot-seconds', given['snapshot-seconds'], 1, 3600);
  }
  if (given['data-dir'] !== undefined) opts.dataDir = nonEmpty('data-dir', given['data-dir']);
  if (given.kubeconfig !== undefined) opts.kubeconfig = nonEmpty('kubeconfig', given.kubeconfig);
  if (given.namespace !== undefined) opts.namespace = nonEmpty('namespace', given.namespace);
  if (given.url !== undefined) opts.url = httpUrl('url', nonEmpty('url', given.url));
  return opts;
}

function httpUrl(flag: string, raw: string): string {
  const problem = `--${flag} must be an http(s) URL such as http://203.0.113.10; got ${JSON.stringify(raw)}`;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(problem);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(problem);
  return raw;
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
