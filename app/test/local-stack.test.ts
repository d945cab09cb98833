/**
 * The local stack (`npm start`) against the real chat service (dist/app/src/main.js,
 * built by `npm run build`) and real redis-server processes, on 127.0.0.1 and free ports,
 * with data dirs in a temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redisPlan } from '../../infra/persistence';
import { httpRequest } from '../local/http';
import { freePort } from '../local/ports';
import { onLines, pidAlive, waitGone } from '../local/processes';
import { LocalStack } from '../local/stack';
import { aofText, loseLastWrites } from './helpers/aof';
import { SERVICE_NODE_FLAGS } from '../src/node-flags';
import { repoRoot } from '../local/stack-config';
import type { StackState } from '../local/state-file';
import { waitFor } from '../cli/wait';

const root = repoRoot();
const startJs = path.join(root, 'dist', 'app', 'local', 'start.js');
const killRedisJs = path.join(root, 'dist', 'app', 'local', 'kill-redis.js');

let tmp: string;
const stacks: LocalStack[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  const service = process.env.LOCAL_STACK_SERVICE_MAIN ?? path.join(root, 'dist', 'app', 'src', 'main.js');
  for (const f of [startJs, killRedisJs, service]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(root, f)} is missing: run \`npm run build\` first`);
  }
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'local-stack-test-'));
});
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A LocalStack on a free port with its data in the test's tmp dir; stopped after each test. */
function localStack(stack: 'stateless' | 'stateful', extra: { replicas?: number } = {}): LocalStack {
  const s = new LocalStack({
    stack,
    port: 0,
    dataDir: path.join(tmp, stack),
    env: { RATE_LIMIT_PER_MIN: '0', LOG_LEVEL: 'warn' },
    ...extra,
  });
  stacks.push(s);
  return s;
}

async function post(url: string, text: string) {
  const res = await httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'tester', text } });
  expect(res.status).toBe(201);
  return res.json;
}

async function history(url: string): Promise<string[]> {
  const res = await httpRequest(`${url}/api/messages?limit=100`);
  expect(res.status).toBe(200);
  return (res.json.messages as { text: string }[]).map((m) => m.text);
}

describe('LocalStack: the cluster on one machine', () => {
  it('stateful: history survives a SIGKILL of Redis because the replacement loads the AOF', async () => {
    const stack = localStack('stateful');
    expect(stack.persistent).toBe(true);
    expect(stack.plan).toEqual(redisPlan(true, 'everysec')); // exactly the pod's flags
    const { url } = await stack.start();
    expect(url).toBe(stack.url);
    const status = await httpRequest(`${url}/api/status`);
    expect(status.json.redis.persistence).toBe('aof'); // what Redis itself reports

    for (const text of ['one', 'two', 'three']) await post(url, text);
    await waitFor('the AOF to hold the three messages', () => aofText(stack.redisDir).includes('three'), 20_000);
    const oldRedis = stack.redis.pid;
    const { redisRecoveryMs, aofLoaded } = await stack.killRedis();
    expect(aofLoaded).toBe(true);
    expect(stack.redis.pid).not.toBe(oldRedis);
    expect(pidAlive(oldRedis)).toBe(false);
    expect(redisRecoveryMs).toBeGreaterThan(0);
    expect(stack.redis.log.some((l) => /DB loaded from append only file/.test(l))).toBe(true);

    expect(await stack.waitReady()).toBeGreaterThanOrEqual(0);
    expect(await history(url)).toEqual(['one', 'two', 'three']);
  });

  it('stateless: history is gone after the kill; the memory-only Redis starts on an empty data dir', async () => {
    const stack = localStack('stateless');
    expect(stack.plan).toEqual(redisPlan(false));
    fs.mkdirSync(stack.redisDir, { recursive: true });
    fs.writeFileSync(path.join(stack.redisDir, 'dump.rdb'), 'left over from an earlier run');
    const { url } = await stack.start();
    expect(fs.readdirSync(stack.redisDir)).toEqual([]);
    expect((await httpRequest(`${url}/api/status`)).json.redis.persistence).toBe('memory');

    await post(url, 'soon forgotten');
    expect(await history(url)).toEqual(['soon forgotten']);
    const { aofLoaded } = await stack.killRedis();
    expect(aofLoaded).toBe(false);
    await stack.waitReady();
    expect(await history(url)).toEqual([]);
  });

  it('spreads requests over the replicas round-robin, like the load balancer', async () => {
    const stack = localStack('stateless', { replicas: 3 });
    const { url } = await stack.start();
    expect(new Set(stack.replicaPids()).size).toBe(3);
    // Each replica runs with the image's Node flags.
    for (const pid of stack.replicaPids()) {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toEqual(expect.arrayContaining([...SERVICE_NODE_FLAGS]));
    }
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await httpRequest(`${url}/api/status`)).json.replica);
    expect(new Set(names)).toEqual(new Set(['replica-1', 'replica-2', 'replica-3']));
    // A message posted through one replica is read through the others: one shared Redis.
    await post(url, 'shared');
    for (let i = 0; i < 3; i++) expect(await history(url)).toEqual(['shared']);
  });

  it('replaces a replica that dies, as a ReplicaSet replaces a pod', async () => {
    const stack = localStack('stateless', { replicas: 2 });
    await stack.start();
    const [victim, survivor] = stack.replicaPids();
    process.kill(victim, 'SIGKILL');
    await waitFor(
      'a replacement replica',
      () => {
        const pids = stack.replicaPids();
        return pids.length === 2 && !pids.includes(victim) && pids.includes(survivor);
      },
      20_000,
    );
    await stack.waitReady();
  });

  it('stop() ends the replicas, their primary and Redis: no process is left behind', async () => {
    const stack = localStack('stateful');
    await stack.start();
    const pids = [...stack.replicaPids(), stack.supervisorPid!, stack.redis.pid!];
    expect(pids).toHaveLength(4);
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);
    await stack.stop();
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(stack.replicaPids()).toEqual([]);
    await stack.stop(); // idempotent
  });

  it('reports a replica that cannot start, with its reason, instead of restarting it forever', async () => {
    const stack = new LocalStack({
      stack: 'stateless',
      port: 0,
      dataDir: path.join(tmp, 'bad'),
      env: { LOG_LEVEL: 'loud' },
    });
    stacks.push(stack);
    await expect(stack.start()).rejects.toThrow(
      /the chat replicas could not start: replica-\d exited \(code 1.*\n.*LOG_LEVEL/,
    );
    expect(stack.redis.running).toBe(false); // start() cleaned up after itself
    expect(stack.supervisorPid).toBeGreaterThan(0);
    expect(pidAlive(stack.supervisorPid)).toBe(false);
  });

  it('refuses a port that is taken, naming it, and starts nothing', async () => {
    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const stack = new LocalStack({ stack: 'stateless', port, dataDir: path.join(tmp, 'x') });
      stacks.push(stack);
      await expect(stack.start()).rejects.toThrow(`port ${port} is already in use`);
      expect(stack.redis.running).toBe(false);
      expect(stack.supervisorPid).toBeUndefined();
    } finally {
      blocker.close();
    }
  });
});

/** Runs one of the CLI programs and collects its output line by line. */
function run(script: string, args: string[]) {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out: string[] = [];
  const err: string[] = [];
  onLines(child.stdout, (l) => out.push(l));
  onLines(child.stderr, (l) => err.push(l));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, err, exit };
}

describe('npm start and npm run kill-redis', () => {
  it('start.js --stack stateful: prints the URL; kill-redis brings Redis back from the AOF; SIGINT leaves nothing behind', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp, 'stateful');
    const start = run(startJs, ['--stack', 'stateful', '--port', String(port), '--data-dir', dataDir]);
    const urlLine = await waitFor(
      'the URL',
      () => {
        if (start.child.exitCode !== null)
          throw new Error(`start.js exited ${start.child.exitCode}:\n${start.err.join('\n')}`);
        return start.out.find((l) => l.includes('http://127.0.0.1:'));
      },
      30_000,
    );
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(urlLine)![0];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(start.out.join('\n')).toContain('redis-server --appendonly yes --appendfsync everysec');
    expect(start.out.join('\n')).toContain('kubectl delete pod -l app=redis');

    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as StackState;
    expect(state).toMatchObject({ stack: 'stateful', persistent: true, pid: start.child.pid, port, url, kills: 0 });

    await post(url, 'kept on the volume');
    // Warnings reach the terminal in brief: which request, and how it ended.
    await httpRequest(`${url}/api/messages`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    await waitFor(
      'the refused post in npm start',
      () => start.out.some((l) => /^\[replica-\d\] warn: request completed: POST \/api\/messages → 415$/.test(l)),
      20_000,
    );
    // The second message is cut from the file as a power loss would (Redis appends to it, so it
    // goes on writing after the cut): Redis still logs "DB loaded", the count says what came back.
    await post(url, 'lost in a power loss');
    const redisDir = path.join(dataDir, 'redis');
    await waitFor('both in the AOF', () => aofText(redisDir).includes('lost in a power loss'));
    loseLastWrites(redisDir, 1);
    const kill = run(killRedisJs, ['--data-dir', dataDir]);
    expect(await kill.exit).toBe(0);
    expect(kill.out.join('\n')).toContain('DB loaded from append only file');
    expect(kill.out.join('\n')).toContain(
      '1 of the 2 message(s) in the history before the kill came back (counted by id): 1 lost.',
    );
    expect(kill.out.join('\n')).not.toMatch(/survived/);
    await waitFor(
      'the AOF line in npm start',
      () => start.out.some((l) => l.includes('DB loaded from append only file')),
      20_000,
    );
    expect(pidAlive(state.redisPid)).toBe(false);
    await waitFor('the chat back', async () => (await httpRequest(`${url}/readyz`)).status === 200, 20_000);
    expect(await history(url)).toEqual(['kept on the volume']);

    const after = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as StackState;
    expect(after.kills).toBe(1);
    const pids = [start.child.pid!, after.replicasPid!, ...after.replicaPids, after.redisPid!];
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);

    start.child.kill('SIGINT');
    expect(await start.exit).toBe(0);
    for (const pid of pids) expect(await waitGone(pid, 5000)).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'stack.json'))).toBe(false);
    expect(start.err.join('\n')).toBe('');
  });

  it('kill-redis with no stack running says so, without a stack trace', async () => {
    const kill = run(killRedisJs, ['--data-dir', path.join(tmp, 'nothing')]);
    expect(await kill.exit).toBe(1);
    expect(kill.err.join('\n')).toMatch(/^kill-redis: no local stack is running/);
    expect(kill.err.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('start.js explains a wrong --stack and a taken port, without a stack trace', async () => {
    const bad = run(startJs, ['--stack', 'production']);
    expect(await bad.exit).toBe(2);
    expect(bad.err[0]).toBe('npm start: --stack must be one of stateless, stateful; got "production"');

    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const taken = run(startJs, ['--stack', 'stateless', '--port', String(port), '--data-dir', path.join(tmp, 's')]);
      expect(await taken.exit).toBe(1);
      expect(taken.err.join('\n')).toMatch(new RegExp(`^npm start: port ${port} is already in use`));
      expect(taken.err.join('\n')).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});
