import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from './processes';
import { STACK_NAMES, repoRoot, type StackName } from './stack-config';

/**
 * `<dataDir>/stack.json`: how `npm run kill-redis` finds a running `npm start`.
 * Written by start.ts when the stack is up, rewritten after each kill, removed on exit.
 */
export interface StackState {
  stack: StackName;
  /** chat:persistence of the stack file: Redis keeps an AOF in the data dir. */
  persistent: boolean;
  /** The `npm start` process (start.js): it owns Redis and takes kill requests (SIGUSR2). */
  pid: number;
  /** The cluster primary that runs the replicas. */
  replicasPid?: number;
  replicaPids: number[];
  redisPid?: number;
  redisPort: number;
  port: number;
  url: string;
  dataDir: string;
  startedAt: string;
  /** How many kills the stack has done; kill-redis waits for it to grow. */
  kills: number;
  lastKill?: {
    at: string;
    redisRecoveryMs: number;
    chatReadyMs?: number;
    aofLoaded: boolean;
    aofLine?: string;
    messages?: number;
    /** Messages in the history just before the kill, and how many of them (by id) the new Redis holds. */
    before?: number;
    cameBack?: number;
  };
}

/** What came back after a kill, counted: "3 of the 3 messages …". */
export function cameBackText({ before, cameBack }: { before: number; cameBack: number }): string {
  const lost = before - cameBack;
  if (before === 0) return 'the history was empty before the kill: nothing to come back';
  const what = `${cameBack} of the ${before} message(s) in the history before the kill came back (counted by id)`;
  return lost === 0 ? `${what}: nothing lost` : `${what}: ${lost} lost`;
}

export const STATE_FILE = 'stack.json';

export function defaultDataDir(stack: StackName, root: string = repoRoot()): string {
  return path.join(root, '.local', stack);
}

export function statePath(dataDir: string): string {
  return path.join(dataDir, STATE_FILE);
}

export function readState(dataDir: string): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(dataDir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/** Atomic: a reader never sees half a file. */
export function writeState(dataDir: string, state: StackState): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${statePath(dataDir)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(tmp, statePath(dataDir));
}

export function removeState(dataDir: string): void {
  fs.rmSync(statePath(dataDir), { force: true });
}

/** The state of a stack that is really running; a file left by a dead process is removed. */
export function runningState(dataDir: string): StackState | undefined {
  const state = readState(dataDir);
  if (!state) return undefined;
  if (pidAlive(state.pid)) return state;
  removeState(dataDir);
  return undefined;
}

/** Running stacks in the default data dirs (.local/stateless, .local/stateful). */
export function runningStacks(root: string = repoRoot()): StackState[] {
  return STACK_NAMES.map((s) => runningState(defaultDataDir(s, root))).filter((s): s is StackState => !!s);
}
