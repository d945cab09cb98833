import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { httpRequest } from '../../local/http';
import { freePort } from '../../local/ports';
import { waitFor } from '../../cli/wait';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** A chat replica as its own process: `node dist/app/src/main.js`, like `npm run serve` and the container. */
export interface ReplicaProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Sends the signal and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Runs main.js from `root` (default the repository) and waits until it answers /healthz. */
export async function spawnReplica(env: Record<string, string>, root = REPO_ROOT): Promise<ReplicaProcess> {
  const main = path.join(root, 'dist', 'app', 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before jest (npm test does)`);
  const port = Number(env.PORT ?? (await freePort()));
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MIN: '0',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;

  const state = await waitFor(
    () => `the replica to answer /healthz (its output:\n${out})`,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      return (await httpRequest(`${url}/healthz`, { timeoutMs: 1000 })).status === 200 && 'serving';
    },
    15_000,
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  if (state === 'exited') throw new Error(`replica exited before serving (code ${child.exitCode}):\n${out}`);

  return {
    child,
    url,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      const began = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      return { ...result, ms: Date.now() - began };
    },
  };
}

/** Runs main.js with this env and resolves when it exits (for start-up failures). */
export function runReplicaToExit(
  env: Record<string, string>,
  root = REPO_ROOT,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'dist', 'app', 'src', 'main.js')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
