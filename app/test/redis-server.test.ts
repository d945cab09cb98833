import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redisPlan } from '../../infra/persistence';
import { RedisServer } from '../local/redis-server';

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
    const redis = new RedisServer({ args: redisPlan(true, 'always').args, dir });
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
    const redis = new RedisServer({ args: redisPlan(false).args, dir });
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
    const first = new RedisServer({ args: redisPlan(false).args, dir });
    await first.start();
    const second = new RedisServer({ args: redisPlan(false).args, dir: path.join(dir, 'b'), port: first.port });
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
    const redis = new RedisServer({ args: redisPlan(true, 'always').args, dir });
    await redis.start();
    await command(redis.port, 'RPUSH', 'chat_history', 'x');
    fs.rmSync(dir, { recursive: true, force: true });
    const began = Date.now();
    await redis.stop(500);
    expect(redis.running).toBe(false);
    expect(Date.now() - began).toBeLessThan(5000);
  });
});
