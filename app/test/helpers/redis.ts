import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisPlan } from '../../../infra/persistence';
import { RedisServer } from '../../local/redis-server';

/** A real redis-server for one test file, on a free port and a throwaway data directory. */
export interface TestRedis {
  server: RedisServer;
  url: string;
  /** Its data directory (the volume). */
  dir: string;
  /** A plain client for looking at what the service stored. */
  client: Redis;
  /** SIGKILL, as `kubectl delete pod -l app=redis` ends the pod. */
  kill(): Promise<void>;
  /** Start again on the same port and data directory. */
  start(): Promise<void>;
  /** Kill, remove the data directory, close the client. */
  dispose(): Promise<void>;
}

export async function startRedis(
  opts: {
    persistent?: boolean;
    appendfsync?: 'always' | 'everysec';
    extraArgs?: string[];
    password?: string;
    port?: number;
    dir?: string;
  } = {},
): Promise<TestRedis> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'chat-test-redis-'));
  const server = new RedisServer({
    plan: redisPlan(!!opts.persistent, opts.appendfsync ?? 'always'),
    extraArgs: opts.extraArgs,
    dir,
    password: opts.password,
    port: opts.port,
  });
  await server.start();
  const client = new Redis(server.port, '127.0.0.1', {
    password: opts.password,
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  client.on('error', () => undefined);
  return {
    server,
    url: server.url,
    dir,
    client,
    kill: () => server.kill(),
    start: async () => {
      await server.start();
    },
    dispose: async () => {
      client.disconnect();
      await server.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
