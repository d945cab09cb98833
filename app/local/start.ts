/**
 * `npm start [-- --stack stateless|stateful] [--port N] [--replicas N] [--data-dir DIR] [--verbose]`
 *
 * Runs the whole system on this machine the way `pulumi up -s <stack>` runs it in the
 * cluster (see stack.ts), prints the URL, and lets you do the tutorial's experiment:
 * press k (or run `npm run kill-redis`) to SIGKILL Redis and start a replacement, as
 * `kubectl delete pod -l app=redis` does. q, Ctrl-C or SIGTERM stop everything.
 */
import path from 'node:path';
import { nonEmpty, oneOf, parseCommandLine, reportUsageError, UsageError, wholeNumber } from '../cli/args';
import { httpRequest } from './http';
import { AOF_LOADED, RedisServerError } from './redis-server';
import { LocalStack, LocalStackError } from './stack';
import { STACK_NAMES, StackConfigError, repoRoot, type StackName } from './stack-config';
import { cameBackText, defaultDataDir, removeState, runningState, writeState, type StackState } from './state-file';
import { BackupError } from '../backup/aof-quiesce';
import { restoreFromArg } from '../backup/restore-arg';

const USAGE = `Usage: npm start [-- options]

Runs the chat on this machine as the cluster runs it: redis-server with the Redis
pod's flags for the stack, and the chat replicas behind one port (round-robin).

Options:
  --stack stateless|stateful   which Pulumi.<stack>.yaml to follow (default stateless)
  --redis pod|managed          pod: redis-server as the Redis pod runs; managed: as
                               DigitalOcean Managed Valkey runs (an emulation: TLS only, a
                               password, no AOF, RDB dumps at most every 10 minutes)
                               (default: the stack file's chat:redis, else pod)
  --port N                     HTTP port on 127.0.0.1 (default 8080; 0 = any free port)
  --replicas N                 chat replicas (default chat:appReplicas, else 2)
  --data-dir DIR               where Redis keeps its data (default .local/<stack>, or
                               .local/<stack>-managed with --redis managed)
  --restore BACKUP             start from a backup of \`npm run backup\` (a name --list shows,
                               latest, or its directory); only into an empty data dir
  --verbose                    show every Redis and replica log line
  -h, --help                   show this help

While it runs: k kills Redis with SIGKILL and starts a new one (also: npm run kill-redis),
q or Ctrl-C stops everything.`;

/** How to call it, in one line (with a usage error). */
const SYNOPSIS =
  'npm start [-- --stack stateless|stateful] [--redis pod|managed] [--port N] [--replicas N] [--data-dir DIR] [--restore BACKUP] [--verbose]';

/** An error the user can act on: printed as one message, without a stack trace. */
const USER_ERRORS = [LocalStackError, StackConfigError, RedisServerError, BackupError];

interface Args {
  stack: StackName;
  /** Undefined: the stack file's chat:redis (default pod). */
  redis?: 'pod' | 'managed';
  port: number;
  replicas?: number;
  dataDir?: string;
  restore?: string;
  verbose: boolean;
  help: boolean;
}

function parse(argv: string[]): Args {
  const given = parseCommandLine(argv, {
    stack: { type: 'string' },
    redis: { type: 'string' },
    port: { type: 'string' },
    replicas: { type: 'string' },
    'data-dir': { type: 'string' },
    restore: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  });
  return {
    stack: oneOf('stack', given.stack ?? 'stateless', STACK_NAMES),
    redis: given.redis === undefined ? undefined : oneOf('redis', given.redis, ['pod', 'managed'] as const),
    port: given.port === undefined ? 8080 : wholeNumber('port', given.port, 0, 65535),
    replicas: given.replicas === undefined ? undefined : wholeNumber('replicas', given.replicas, 1, 50),
    dataDir: given['data-dir'] === undefined ? undefined : path.resolve(nonEmpty('data-dir', given['data-dir'])),
    restore: given.restore === undefined ? undefined : nonEmpty('restore', given.restore),
    verbose: given.verbose === true,
    help: given.help === true,
  };
}

/** Without --verbose, only what needs attention: replica warnings and errors, Redis errors, stack events. */
function worthShowing(line: string): boolean {
  if (line.startsWith('[stack] ')) return /unexpectedly|did not stop/.test(line);
  if (line.startsWith('[redis] ')) return /error|fatal|can't|failed|bad file/i.test(line);
  const m = /^\[(replica-\d+|replicas)\] (.*)$/.exec(line);
  if (!m) return true;
  try {
    const entry = JSON.parse(m[2]) as { level?: number };
    return typeof entry.level !== 'number' || entry.level >= 40; // pino: 40 warn, 50 error, 60 fatal
  } catch {
    return true; // not a log entry: a crash trace or the like
  }
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A replica's pino JSON line as `[replica-1] warn: message` (--verbose shows the JSON). */
function brief(line: string): string {
  const m = /^\[(replica-\d+)\] (\{.*\})$/.exec(line);
  if (!m) return line;
  try {
    const entry = JSON.parse(m[2]) as {
      level?: number;
      msg?: string;
      err?: { message?: string };
      req?: { method?: string; url?: string };
      res?: { statusCode?: number };
    };
    const err = entry.err?.message && entry.err.message !== entry.msg ? ` (${entry.err.message})` : '';
    // A request's line says which request and how it ended.
    const request =
      entry.req?.method && entry.res?.statusCode
        ? `: ${entry.req.method} ${entry.req.url} → ${entry.res.statusCode}`
        : '';
    return `[${m[1]}] ${LEVELS[entry.level ?? 30] ?? entry.level}: ${entry.msg ?? ''}${request}${err}`;
  } catch {
    return line;
  }
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const root = repoRoot();
  // The managed emulation keeps its own data (an RDB file, its certificates) apart from the pod's.
  const dataDir =
    args.dataDir ??
    (args.redis === 'managed' ? `${defaultDataDir(args.stack, root)}-managed` : defaultDataDir(args.stack, root));
  const other = runningState(dataDir);
  if (other) {
    throw new LocalStackError(
      `a local ${other.stack} stack is already running at ${other.url} (pid ${other.pid}) with data dir ${dataDir}; stop it first (q or Ctrl-C in its terminal)`,
    );
  }

  let stopping = false;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const stack = new LocalStack({
    stack: args.stack,
    redis: args.redis,
    port: args.port,
    replicas: args.replicas,
    dataDir,
    log: (line) => {
      if (stopping) return;
      if (args.verbose) out(line);
      else if (worthShowing(line)) out(brief(line));
    },
  });
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
  };
  if (args.restore !== undefined) {
    const restored = restoreFromArg(args.restore, {
      stack: args.stack,
      persistent: stack.persistent,
      root,
      redisDir: stack.redisDir,
    });
    out(`Restored backup ${restored.name} into ${rel(stack.redisDir)} (the new volume)`);
  }
  const flags = stack.plan.args.map((a) => (a === '' ? '""' : a)).join(' ');

  out(
    `doks-chat local stack "${args.stack}" (${path.basename(stack.config.file)}: chat:persistence "${stack.persistent}")`,
  );
  if (stack.redisMode === 'managed') {
    out(`  Redis  EMULATION of DigitalOcean Managed Valkey: redis-server ${flags}, TLS only (its own CA,`);
    out('         trusted by the replicas through NODE_EXTRA_CA_CERTS), a password, no append-only file');
    out(
      stack.persistent
        ? `         rdb: a dump at most every 10 minutes; a kill loses what came after the last dump (data dir ${rel(stack.redisDir)})`
        : `         persistence off: every kill empties it (data dir ${rel(stack.redisDir)} is wiped)`,
    );
  } else out(`  Redis  redis-server ${flags}   (the Redis pod's flags)`);
  if (stack.redisMode === 'pod')
    out(
      stack.persistent
        ? `         data dir ${rel(stack.redisDir)} stands in for the redis-pvc volume: it outlives every kill`
        : `         memory-only: no volume, so every new Redis starts empty (data dir ${rel(stack.redisDir)} is wiped)`,
    );
  out(`  Chat   ${stack.replicas} replica(s) of dist/app/src/main.js on one port, round-robin like chat-app-lb`);
  out('Starting…');

  const stateOf = (): StackState => ({
    stack: args.stack,
    persistent: stack.persistent,
    pid: process.pid,
    replicasPid: stack.supervisorPid,
    replicaPids: stack.replicaPids(),
    redisPid: stack.redis.pid,
    redisPort: stack.redis.port,
    port: Number(new URL(stack.url).port),
    url: stack.url,
    dataDir,
    startedAt,
    kills,
    lastKill,
  });
  const startedAt = new Date().toISOString();
  let kills = 0;
  let lastKill: StackState['lastKill'];

  let stopped: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> => {
    if (stopped) {
      if (!stopping) return stopped;
      out('Still stopping…');
      return stopped;
    }
    stopping = true;
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    out(`\n${why}: stopping the replicas (SIGTERM), then Redis…`);
    stopped = stack.stop().finally(() => removeState(dataDir));
    return stopped;
  };
  const onSignal = (sig: NodeJS.Signals) => void shutdown(sig).then(() => finish(0));
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  try {
    await stack.start();
  } catch (err) {
    if (stopping) return finished; // interrupted while starting
    removeState(dataDir);
    throw err;
  }
  if (stopping) return finished;

  writeState(dataDir, stateOf());
  out('');
  out(`Chat ready: ${stack.url}`);
  out('');
  out('The experiment: post a few messages, then kill Redis with SIGKILL, as `kubectl delete pod -l app=redis` does:');
  out(`  ${process.stdin.isTTY ? 'press k here, or run' : 'run'} \`npm run kill-redis\` in another terminal.`);
  out(
    stack.redisMode === 'managed'
      ? stack.persistent
        ? '  Managed emulation (rdb): the new Redis loads the last dump; what was written after it is gone.'
        : '  Managed emulation (persistence off): the new Redis starts empty and the history is gone.'
      : stack.persistent
        ? '  This stack is persistent: the new Redis loads the append-only file and the history comes back.'
        : '  This stack is memory-only: the new Redis starts empty and the history is gone.',
  );
  out(`${process.stdin.isTTY ? 'q or Ctrl-C' : 'Ctrl-C (SIGINT) or SIGTERM'} stops everything.`);

  // One kill at a time, in order: a key press and `npm run kill-redis` may overlap.
  let queue: Promise<void> = Promise.resolve();
  const killRedis = (reason: string) => {
    queue = queue.then(async () => {
      if (stopping) return;
      out('');
      out(
        stack.redis.running
          ? `${reason}: killing Redis (pid ${stack.redis.pid}) with SIGKILL, as \`kubectl delete pod -l app=redis\` does…`
          : `${reason}: starting a replacement, as the Deployment would…`,
      );
      try {
        const { redisRecoveryMs, aofLoaded, history: counted } = await stack.killRedis();
        out(`  a new Redis (pid ${stack.redis.pid}) accepts connections after ${redisRecoveryMs} ms`);
        const aofLine = stack.redis.log.find((l) => AOF_LOADED.test(l));
        if (aofLine) out(`  Redis: ${aofLine.replace(/^\d+:M [^*#]*/, '')}`);
        else if (!stack.persistent) out('  it started with an empty data dir (no volume): nothing to load');
        else out('  no append-only file was loaded (nothing had been written yet)');
        if (counted) out(`  ${cameBackText(counted)}`);
        const chatReadyMs = await stack.waitReady(30_000);
        let messages: number | undefined;
        try {
          const res = await httpRequest(`${stack.url}/api/status`);
          const status = res.json as { redis?: { messages?: unknown } } | undefined;
          if (typeof status?.redis?.messages === 'number') messages = status.redis.messages;
        } catch {
          /* the count is a courtesy */
        }
        const history =
          messages === undefined
            ? ''
            : ` — ${messages} message(s) in history${stack.persistent ? '' : messages === 0 ? ' (gone)' : ''}`;
        out(`  every replica ready again (GET /readyz 200) after ${chatReadyMs} ms${history}`);
        kills += 1;
        lastKill = {
          at: new Date().toISOString(),
          redisRecoveryMs,
          chatReadyMs,
          aofLoaded,
          aofLine,
          messages,
          ...(counted ? { before: counted.before, cameBack: counted.cameBack } : {}),
        };
      } catch (err) {
        out(`  the kill failed: ${(err as Error).message}`);
        kills += 1;
        lastKill = { at: new Date().toISOString(), redisRecoveryMs: -1, aofLoaded: false };
      }
      if (!stopping) writeState(dataDir, stateOf());
    });
  };

  // `npm run kill-redis` asks through SIGUSR2 (see kill-redis.ts).
  process.on('SIGUSR2', () => killRedis('kill-redis'));

  // A ReplicaSet replaces a Redis pod that dies on its own, too.
  let deadTicks = 0;
  let lastPids = '';
  const watch = setInterval(() => {
    if (stopping) return;
    deadTicks = stack.redis.running ? 0 : deadTicks + 1;
    if (deadTicks === 2) killRedis(`Redis (pid ${stack.redis.pid}) exited on its own`);
    const pids = JSON.stringify(stack.replicaPids());
    if (pids !== lastPids) {
      if (lastPids) writeState(dataDir, stateOf());
      lastPids = pids;
    }
  }, 500);

  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    process.stdin.resume();
    process.stdin.on('data', (key: string) => {
      if (key === 'k' || key === 'K') killRedis('k pressed');
      else if (key === 'q' || key === 'Q' || key === '\u0003')
        void shutdown(key === '\u0003' ? 'Ctrl-C' : 'q').then(() => finish(0));
      else if (key === '\r' || key === '\n') out('');
    });
  }

  const code = await finished;
  clearInterval(watch);
  out('Stopped; nothing is left running.');
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) process.exit(reportUsageError('npm start', SYNOPSIS, err));
    if (USER_ERRORS.some((E) => err instanceof E)) {
      process.stderr.write(`npm start: ${(err as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`npm start: unexpected error\n${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
