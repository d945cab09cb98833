/**
 * `npm run kill-redis [-- --stack stateless|stateful] [--data-dir DIR]`
 *
 * The tutorial's `kubectl delete pod -l app=redis`, for the stack `npm start` runs:
 * it finds that stack through its state file (<dataDir>/stack.json) and sends its
 * `npm start` process SIGUSR2. That process SIGKILLs redis-server and starts the
 * replacement (same data dir when persistent, an empty one when memory-only), exactly
 * as the k key does. Asking the owner, rather than SIGKILLing the Redis pid from here,
 * keeps one code path for the kill and its replacement (the owner knows whether to
 * wipe the data dir, measures the recovery, and shows Redis's log), and never signals a
 * pid that a stale state file names. This command then waits for the result and prints it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { nonEmpty, oneOf, parseCommandLine, reportUsageError, UsageError } from '../cli/args';
import { STACK_NAMES, StackConfigError, repoRoot } from './stack-config';
import { cameBackText, defaultDataDir, readState, runningStacks, runningState, type StackState } from './state-file';

const USAGE = `Usage: npm run kill-redis [-- --stack stateless|stateful] [--data-dir DIR]

Kills the Redis of the stack \`npm start\` runs with SIGKILL and has a new one started,
as \`kubectl delete pod -l app=redis\` does. Without options it finds the running stack.`;

class UserError extends Error {}

/** How to call it, in one line (with a usage error). */
const SYNOPSIS = 'npm run kill-redis [-- --stack stateless|stateful] [--data-dir DIR]';

const NOT_RUNNING =
  'no local stack is running: start one with `npm start -- --stack stateful` (or stateless), then run this in another terminal';

function find(argv: string[]): StackState | 'help' {
  const values = parseCommandLine(argv, {
    stack: { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (values['data-dir'] !== undefined) {
    const dir = path.resolve(nonEmpty('data-dir', values['data-dir']));
    const state = runningState(dir);
    if (!state) throw new UserError(`no local stack is running with data dir ${dir}`);
    return state;
  }
  if (values.stack !== undefined) {
    const stack = oneOf('stack', values.stack, STACK_NAMES);
    const state = runningState(defaultDataDir(stack, repoRoot()));
    if (!state)
      throw new UserError(`the local ${stack} stack is not running: start it with \`npm start -- --stack ${stack}\``);
    return state;
  }
  const running = runningStacks(repoRoot());
  if (running.length === 0) throw new UserError(NOT_RUNNING);
  if (running.length > 1) {
    throw new UserError(`both local stacks are running; choose one: npm run kill-redis -- --stack stateless|stateful`);
  }
  return running[0];
}

async function main(): Promise<void> {
  const state = find(process.argv.slice(2));
  if (state === 'help') {
    console.log(USAGE);
    return;
  }
  const before = state.kills;
  console.log(
    `Killing Redis (pid ${state.redisPid}) of the local ${state.stack} stack at ${state.url} with SIGKILL, as \`kubectl delete pod -l app=redis\` does…`,
  );
  try {
    process.kill(state.pid, 'SIGUSR2');
  } catch {
    throw new UserError(NOT_RUNNING);
  }
  const until = Date.now() + 60_000;
  for (;;) {
    await sleep(100);
    const now = readState(state.dataDir);
    if (!now) throw new UserError('the local stack stopped before Redis came back');
    if (now.kills > before && now.lastKill) {
      const k = now.lastKill;
      if (k.redisRecoveryMs < 0) throw new UserError('the stack could not start a new Redis; see its terminal');
      console.log(`A new Redis (pid ${now.redisPid}) accepts connections after ${k.redisRecoveryMs} ms.`);
      if (k.aofLine) console.log(`Redis: ${k.aofLine.replace(/^\d+:M [^*#]*/, '')}`);
      else if (now.persistent) console.log('No append-only file was loaded.');
      else console.log('Memory-only: it started with an empty data dir.');
      // Counted, not read off Redis's log: it says "DB loaded" also after cutting off a damaged tail.
      if (k.before !== undefined && k.cameBack !== undefined) {
        const counted = cameBackText({ before: k.before, cameBack: k.cameBack });
        console.log(`${counted[0].toUpperCase()}${counted.slice(1)}.`);
      }
      if (k.chatReadyMs !== undefined) {
        console.log(
          `Every replica ready again after ${k.chatReadyMs} ms${k.messages === undefined ? '' : `; ${k.messages} message(s) in history`}.`,
        );
      }
      return;
    }
    if (Date.now() > until) throw new UserError('no answer from the local stack within 60 s; see its terminal');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) process.exit(reportUsageError('kill-redis', SYNOPSIS, err));
    if (err instanceof UserError || err instanceof StackConfigError) {
      process.stderr.write(`kill-redis: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`kill-redis: unexpected error\n${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
