/**
 * Local backups on a real redis-server: Redis's files made consistent (rewrites paused, one
 * rewrite to its end), copied under the backups dir, listed, and restored only into an empty
 * data directory. Plus the command's refusals.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisPlan } from '../../infra/persistence';
import { BackupError } from '../backup/aof-quiesce';
import { ioredisAdmin } from '../backup/ioredis-admin';
import { findLocalBackup, holdsData, listLocalBackups, restoreLocalBackup, takeLocalBackup } from '../backup/local';
import { restoreFromArg } from '../backup/restore-arg';
import { RedisServer } from '../local/redis-server';
import { startRedis, type TestRedis } from './helpers/redis';

const REPO = path.resolve(__dirname, '..', '..');
const mainJs = path.join(REPO, 'dist', 'app', 'backup', 'main.js');

function backupCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('local backup of a running Redis', () => {
  let redis: TestRedis;
  let tmp: string;
  beforeEach(async () => {
    redis = await startRedis({ persistent: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-test-'));
  });
  afterEach(async () => {
    await redis.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('copies the append-only files after a finished rewrite, with rewrites paused meanwhile and set back after', async () => {
    await redis.client.config('SET', 'auto-aof-rewrite-percentage', '77');
    for (let i = 0; i < 5; i++) await redis.client.rpush('chat_history', `m${i}`);
    const rewritesBefore = Number(/aof_rewrites:(\d+)/.exec(await redis.client.info('persistence'))![1]);
    let percentageDuringCopy = '';
    const admin = ioredisAdmin(redis.client);
    const b = await takeLocalBackup({
      stack: 'stateful',
      redisDir: redis.server['opts'].dir,
      backupsDir: tmp,
      admin: {
        ...admin,
        // Look at Redis while the copy would run.
        info: async (s) => {
          percentageDuringCopy = ((await redis.client.config('GET', 'auto-aof-rewrite-percentage')) as string[])[1];
          return admin.info(s);
        },
      },
      messages: () => redis.client.llen('chat_history'),
      now: () => new Date('2026-01-02T03:04:05.678Z'),
    });
    expect(b.name).toBe('2026-01-02T03-04-05.678Z');
    expect(percentageDuringCopy).toBe('0');
    expect(((await redis.client.config('GET', 'auto-aof-rewrite-percentage')) as string[])[1]).toBe('77');
    expect(Number(/aof_rewrites:(\d+)/.exec(await redis.client.info('persistence'))![1])).toBe(rewritesBefore + 1);
    expect(b.manifest).toMatchObject({ stack: 'stateful', redisRunning: true, messages: 5 });
    const names = b.manifest.files.map((f) => f.name).sort();
    expect(names.some((n) => /appendonlydir\/.*\.manifest$/.test(n))).toBe(true);
    expect(names).not.toContain('redis.lock');
    expect(listLocalBackups(tmp).map((x) => x.name)).toEqual([b.name]);

    // Restored into an empty directory, a new Redis loads it with all five messages.
    const fresh = path.join(tmp, 'new-volume', 'redis');
    restoreLocalBackup(findLocalBackup('latest', tmp, 'stateful'), fresh, '');
    const restored = new RedisServer({ plan: redisPlan(true, 'always'), dir: fresh });
    await restored.start();
    const client = new Redis(restored.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      expect(restored.aofLoaded).toBe(true);
      expect(await client.lrange('chat_history', 0, -1)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    } finally {
      client.disconnect();
      await restored.stop();
    }
  });

  it('memory-only Redis: nothing on disk to back up, and no backup directory appears', async () => {
    const memory = await startRedis({ persistent: false });
    try {
      await expect(
        takeLocalBackup({
          stack: 'stateless',
          redisDir: memory.server['opts'].dir,
          backupsDir: tmp,
          admin: ioredisAdmin(memory.client),
        }),
      ).rejects.toThrow(/memory-only Redis, there is nothing on disk to back up/);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await memory.dispose();
    }
  });
});

describe('restore', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-test-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const atRest = async () => {
    const dir = path.join(tmp, 'data', 'redis');
    fs.mkdirSync(path.join(dir, 'appendonlydir'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'x');
    fs.writeFileSync(path.join(dir, 'redis.lock'), '');
    return takeLocalBackup({ stack: 'stateful', redisDir: dir, backupsDir: path.join(tmp, 'backups') });
  };

  it('refuses a data dir that already holds data, saying how to replace it', async () => {
    const b = await atRest();
    expect(b.manifest.redisRunning).toBe(false);
    expect(() => restoreLocalBackup(b, path.join(tmp, 'data', 'redis'), 'HOW')).toThrow(
      /already holds Redis data: restoring over live history replaces it, so it is refused\. HOW/,
    );
    // A data dir with only the lock file is empty.
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'redis.lock'), '');
    expect(holdsData(other)).toBe(false);
    restoreLocalBackup(b, other, '');
    expect(fs.readdirSync(path.join(other, 'appendonlydir'))).toEqual(['appendonly.aof.manifest']);
    expect(fs.existsSync(path.join(other, 'backup.json'))).toBe(false);
  });

  it('an unknown backup names the ones there are; a memory-only stack has nothing to restore into', async () => {
    const b = await atRest();
    expect(() => findLocalBackup('nope', path.join(tmp, 'backups'), 'stateful')).toThrow(
      new RegExp(`no backup "nope"; backups of "stateful": ${b.name.replace(/\./g, '\\.')} \\(or latest\\)`),
    );
    expect(() => findLocalBackup('nope', path.join(tmp, 'none'), 'stateful')).toThrow(
      /npm run backup -- --stack stateful/,
    );
    expect(() => restoreFromArg('latest', { stack: 'stateless', persistent: false, root: tmp, redisDir: tmp })).toThrow(
      BackupError,
    );
  });

  it('a backup cut short (no manifest) is not listed', async () => {
    await atRest();
    fs.mkdirSync(path.join(tmp, 'backups', '2020-01-01T00-00-00.000Z'));
    fs.mkdirSync(path.join(tmp, 'backups', '.2020-01-02T00-00-00.000Z.partial'));
    expect(listLocalBackups(path.join(tmp, 'backups'))).toHaveLength(1);
  });
});

describe('npm run backup (the command)', () => {
  beforeAll(() => {
    if (!fs.existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);
  });

  it('on the memory-only stack says there is nothing to back up (exit 1)', async () => {
    const r = await backupCli(['--stack', 'stateless']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /stack "stateless" keeps Redis in memory only \(chat:persistence false in Pulumi\.stateless\.yaml\): there is nothing on disk to back up/,
    );
  });

  it('with an empty data dir says so (exit 1); bad arguments exit 2', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-empty-'));
    try {
      const r = await backupCli(['--stack', 'stateful', '--data-dir', empty]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/holds no Redis data: nothing to back up/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    expect((await backupCli(['--stack', 'stateful', '--target', 'moon'])).code).toBe(2);
    expect((await backupCli(['--stack', 'stateful', '--kubeconfig', 'k'])).stderr).toMatch(
      /--kubeconfig applies only to --target cluster/,
    );
  });
});
