import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalStack, type LocalStackOptions } from '../local/stack';

/**
 * The systems under test, each a LocalStack (redis-server with the pod's flags plus N
 * cluster replicas on one port, round-robin) on its own temporary data directory:
 * - the service: dist/app/src/main.js, what `npm start` and the container run;
 * - the baselines, under the same cluster primary, so they differ from the service only in
 *   the replica program: dist/app/bench/baseline-server.js (bare node:http) and
 *   dist/app/bench/express-baseline.js (bare Express 5 + express.json()).
 * Every stack started here is registered, and stopAll() stops them (SIGTERM replicas,
 * then Redis) and removes their directories, on success, error or Ctrl-C.
 */

/** The replica programs, as compiled into dist/. */
const PROGRAMS = {
  service: path.join(__dirname, '..', 'src', 'main.js'),
  baseline: path.join(__dirname, 'baseline-server.js'),
  express: path.join(__dirname, 'express-baseline.js'),
};

/** A local stack whose replicas run the given program instead of the service's main. */
class StackRunning extends LocalStack {
  constructor(
    opts: LocalStackOptions,
    private readonly program: string,
  ) {
    super(opts);
  }

  override get serviceMain(): string {
    return this.program;
  }
}

export interface BenchStack {
  name: string;
  stack: LocalStack;
  url: string;
  /** Last lines the stack logged, shown when something fails. */
  tail: string[];
}

const running = new Set<BenchStack>();
const dirs = new Set<string>();

export interface StartOptions {
  name: string;
  program: keyof typeof PROGRAMS;
  replicas?: number;
  env?: Record<string, string>;
  verbose?: boolean;
}

export async function startStack(opts: StartOptions): Promise<BenchStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `doks-chat-bench-${opts.name}-`));
  dirs.add(dataDir);
  const tail: string[] = [];
  const stackOpts: LocalStackOptions = {
    // The stateful stack: Redis with the persistent plan (AOF, appendfsync from the
    // stack file, everysec), as phase 2 of the tutorial runs it.
    stack: 'stateful',
    port: 0,
    replicas: opts.replicas,
    dataDir,
    env: {
      RATE_LIMIT_PER_MIN: '0',
      HOST: '127.0.0.1',
      ...opts.env,
    },
    // Replica log lines go to a file, as a container runtime captures a pod's stdout:
    // relayed through the cluster primary and this process (the load generator), they
    // would cost the service CPU that a pod does not spend (unless --verbose asks for them).
    replicaLogFile: opts.verbose ? undefined : path.join(dataDir, 'replicas.log'),
    log: (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (opts.verbose) process.stderr.write(`[${opts.name}] ${line}\n`);
    },
  };
  const stack = new StackRunning(stackOpts, PROGRAMS[opts.program]);
  const entry: BenchStack = { name: opts.name, stack, url: '', tail };
  running.add(entry);
  const { url } = await stack.start();
  entry.url = url;
  return entry;
}

export async function stopStack(entry: BenchStack): Promise<void> {
  running.delete(entry);
  await entry.stack.stop();
  fs.rmSync(entry.stack.dataDir, { recursive: true, force: true });
  dirs.delete(entry.stack.dataDir);
}

export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((s) => stopStack(s)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
