import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redisPlan } from '../../infra/persistence';
import { RedisServer } from '../local/redis-server';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../cli/wait';

/** Minimal RESP client so this test does not depend on the service's Redis library. */
function command(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    sock.once('data', (d) => {
      sock.end();
      resolve(d.toString());
    });
    sock.once('error', reject);
  });
}

describe('RedisServer: the Redis pod lifecycle on one machine', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-server-test-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps data across SIGKILL with the persistent plan and logs the AOF load', async () => {
    const redis = new RedisServer({ plan: redisPlan(true, 'always'), dir });
    await redis.start();
    try {
      expect(await command(redis.port, 'RPUSH', 'chat_history', 'hello')).toBe(':1\r\n');
      await redis.kill();
      expect(redis.running).toBe(false);
      await redis.start();
      expect(redis.aofLoaded).toBe(true);
      expect(await command(redis.port, 'LLEN', 'chat_history')).toBe(':1\r\n');
    } finally {
      await redis.kill();
    }
  });

  it('loses everything on SIGKILL with the memory-only plan', async () => {
    const redis = new RedisServer({ plan: redisPlan(false), dir });
    await redis.start();
    try {
      await command(redis.port, 'RPUSH', 'chat_history', 'hello');
      await redis.restart();
      expect(redis.aofLoaded).toBe(false);
      expect(await command(redis.port, 'LLEN', 'chat_history')).toBe(':0\r\n');
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      await redis.kill();
    }
  });

  it('fails with a message naming the port when the port is taken', async () => {
    const first = new RedisServer({ plan: redisPlan(false), dir });
    await first.start();
    const second = new RedisServer({ plan: redisPlan(false), dir: path.join(dir, 'b'), port: first.port });
    try {
      await expect(second.start()).rejects.toThrow(new RegExp(`port ${first.port} exited during start`));
    } finally {
      await first.kill();
      await second.kill();
    }
  });
});

describe('RedisServer.stop', () => {
  it('kills a redis-server that refuses SIGTERM because its final save fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-server-stop-'));
    const redis = new RedisServer({ plan: redisPlan(true, 'always'), dir });
    await redis.start();
    await command(redis.port, 'RPUSH', 'chat_history', 'x');
    fs.rmSync(dir, { recursive: true, force: true });
    const began = Date.now();
    await redis.stop(500);
    expect(redis.running).toBe(false);
    expect(Date.now() - began).toBeLessThan(5000);
  });
});

describe('the data-directory lock (redisLaunch): one redis-server per volume', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-lock-test-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const refused = (port: number) =>
    new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });

  const waitForLine = (server: RedisServer, pattern: RegExp, ms = 10_000) =>
    waitFor(
      () => `a log line matching ${pattern} (log:\n${server.log.join('\n')})`,
      () => server.log.some((l) => pattern.test(l)),
      ms,
    );

  it.each([
    ['SIGKILLed', (s: RedisServer) => s.kill()],
    ['stopped with SIGTERM', (s: RedisServer) => s.stop()],
  ])(
    'a second redis-server on the same data dir waits until the first is %s, then loads its AOF',
    async (_how, end) => {
      const plan = redisPlan(true, 'always');
      const first = new RedisServer({ plan, dir });
      const second = new RedisServer({ plan, dir, startTimeoutMs: 20_000 });
      await first.start();
      try {
        expect(await command(first.port, 'RPUSH', 'chat_history', 'before')).toBe(':1\r\n');
        const secondReady = second.start();
        await waitForLine(second, /redis-lock: another redis-server holds redis\.lock/);
        await sleep(500);
        // Still waiting: not listening, nothing of its own in the log, and the first one serves on.
        expect(await refused(second.port)).toBe(true);
        expect(second.log.some((l) => /Ready to accept connections|append only file/.test(l))).toBe(false);
        expect(await command(first.port, 'RPUSH', 'chat_history', 'while the second waits')).toBe(':2\r\n');

        await end(first);
        await secondReady;
        expect(second.aofLoaded).toBe(true);
        expect(await command(second.port, 'LRANGE', 'chat_history', '0', '-1')).toBe(
          '*2\r\n$6\r\nbefore\r\n$22\r\nwhile the second waits\r\n',
        );
        // The lock passed to the second: a third would wait again.
        expect(fs.existsSync(path.join(dir, 'redis.lock'))).toBe(true);
      } finally {
        await first.kill();
        await second.kill();
      }
    },
  );

  it('memory-only Redis takes no lock (no volume, nothing to share)', async () => {
    const redis = new RedisServer({ plan: redisPlan(false), dir });
    await redis.start();
    try {
      expect(fs.existsSync(path.join(dir, 'redis.lock'))).toBe(false);
    } finally {
      await redis.kill();
    }
  });
});
