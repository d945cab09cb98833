import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '../local/processes';
import { waitFor } from '../cli/wait';

/**
 * The experiment end to end on the local target, as a user runs it: the built CLI
 * (`node dist/app/experiment/main.js`, what `npm run experiment` runs) against real
 * redis-server and the real chat replicas. Needs `npm run build` first.
 */
// Real processes on a machine that may be busy (CI, parallel suites): generous per-test time.
jest.setTimeout(120_000);

const root = path.resolve(__dirname, '..', '..');
const mainJs = path.join(root, 'dist', 'app', 'experiment', 'main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout, parsed (with --json). */
  json: any;
}

function start(args: string[], tmp: string): { child: ChildProcess; done: Promise<Run>; stderr: () => string } {
  // TMPDIR: the experiment's temporary data dir lands where this test can check it was removed.
  const child = spawn(process.execPath, [mainJs, ...args], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => {
      const last = stdout.trimEnd().split('\n').pop() ?? '';
      let json: unknown;
      try {
        json = JSON.parse(last);
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    }),
  );
  return { child, done, stderr: () => stderr };
}

/** Every process below `pid` (by /proc parent links). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Processes whose working directory is under `dir` (redis-server runs in its --dir). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if (cwd.startsWith(dir) && pidAlive(Number(entry))) out.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

describe('npm run experiment on the local target (real redis-server, real replicas)', () => {
  let tmp: string;
  beforeAll(() => {
    if (!fs.existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
  });
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'experiment-test-'));
  });
  afterEach(async () => {
    // No redis-server left running in the experiment's data dir, and the dir itself is gone.
    await waitFor(
      () => `processes ${processesUnder(tmp).join(', ')} under ${tmp} to end`,
      () => processesUnder(tmp).length === 0,
      10_000,
    ).catch((err) => {
      for (const pid of processesUnder(tmp)) process.kill(pid, 'SIGKILL');
      throw err;
    });
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('doks-chat-experiment-'))).toEqual([]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('stateless: the history is gone after each kill, exit 0', async () => {
    const r = await start(['--stack', 'stateless', '--messages', '5', '--cycles', '2', '--json'], tmp).done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(`exit ${r.code}\n${r.stdout}\n${r.stderr.slice(-2000)}`).toMatch(/^exit 0\n/);
    expect(r.json).toMatchObject({
      stack: 'stateless',
      target: 'local',
      persistence: false,
      appendfsync: null,
      cycles: 2,
      acknowledged: 10,
      survived: 0,
      lost: 10,
      aofLoaded: false,
      ok: true,
    });
    expect(r.json.redisRecoveryMs).toBeGreaterThan(0);
    expect(r.json.appRecoveryMs).toBeGreaterThanOrEqual(r.json.redisRecoveryMs);
    expect(r.stdout).toMatch(/^cycle\s+acknowledged\s+present after restart\s+lost/m);
    expect(r.stdout).toMatch(/^PASS: stateless as promised/m);
  });

  it('stateful: every message survives both kills and the AOF is loaded each time, exit 0', async () => {
    const r = await start(['--stack', 'stateful', '--messages', '5', '--cycles', '2', '--json'], tmp).done;
    expect(`exit ${r.code}\n${r.stdout}\n${r.stderr.slice(-2000)}`).toMatch(/^exit 0\n/);
    expect(r.json).toMatchObject({
      stack: 'stateful',
      persistence: true,
      cycles: 2,
      acknowledged: 10,
      survived: 10,
      lost: 0,
      aofLoaded: true,
      ok: true,
    });
    expect(r.stdout.match(/^[12]\s.*\syes$/gm)).toHaveLength(2);
  });

  it('stateful --fault volume-loss: backup, more posts, the data dir deleted, the backup restored; nothing from before the backup lost', async () => {
    const r = await start(
      ['--stack', 'stateful', '--fault', 'volume-loss', '--messages', '5', '--cycles', '2', '--json'],
      tmp,
    ).done;
    expect(`exit ${r.code}\n${r.stdout}\n${r.stderr.slice(-2000)}`).toMatch(/^exit 0\n/);
    expect(r.json).toMatchObject({
      stack: 'stateful',
      target: 'local',
      fault: 'volume-loss',
      cycles: 2,
      ackedBeforeBackup: 10,
      ackedAfterBackup: 10,
      survived: 10,
      lostBeforeBackup: 0,
      lostAfterBackup: 10,
      aofLoaded: true,
      ok: true,
    });
    expect(r.stdout).toMatch(
      /^cycle\s+acked before backup\s+acked after backup\s+present after restore\s+lost from before backup\s+lost from after backup/m,
    );
    expect(r.stdout).toMatch(
      /In words: 10 message\(s\) were acknowledged before a backup and 10 after it\..* 0 of those from before the backup are lost \(this must be 0\), and 10 of those written after it/,
    );
    expect(r.stdout).toMatch(/^PASS: the backup held/m);
  });

  it('stateful --load --appendfsync always: a writer posts through each kill and no acknowledged message is lost', async () => {
    const r = await start(
      ['--stack', 'stateful', '--load', '--appendfsync', 'always', '--messages', '5', '--cycles', '2', '--json'],
      tmp,
    ).done;
    expect(`exit ${r.code}\n${r.stdout}\n${r.stderr.slice(-2000)}`).toMatch(/^exit 0\n/);
    expect(r.json).toMatchObject({ appendfsync: 'always', cycles: 2, lost: 0, aofLoaded: true, ok: true });
    expect(r.json.acknowledged).toBeGreaterThan(10 + 100); // the batch plus the writer's acks (200/s for ~2 s per cycle)
    expect(r.json.survived).toBe(r.json.acknowledged);
  });

  it('Ctrl-C mid-run stops redis-server and the replicas and removes the temporary data dir', async () => {
    const run = start(['--stack', 'stateful', '--messages', '5', '--cycles', '100'], tmp);
    // Interrupt as the kill starts: the hardest moment, when a replacement Redis is being started.
    await waitFor('the first kill', () => /cycle 1\/100: killing Redis/.test(run.stderr()), 30_000);
    const pids = descendants(run.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(3); // redis-server, the replicas' primary, its replicas
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    await waitFor(
      () => `processes ${pids.filter(pidAlive).join(', ')} to end`,
      () => pids.every((p) => !pidAlive(p)),
      20_000,
    );
  });

  it('a port that is taken: exit 1 with a clear message and no stack trace', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const run = start(['--stack', 'stateless', '--port', String(port)], tmp);
      const r = await run.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`experiment: cannot start: .*port ${port} is already in use`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  });
});
