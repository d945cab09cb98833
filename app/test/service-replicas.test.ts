import http from 'node:http';
import { httpRequest } from '../local/http';
import { startRedis, type TestRedis } from './helpers/redis';
import { runReplicaToExit, spawnReplica, type ReplicaProcess } from './helpers/replica-process';
import { SseClient } from './helpers/sse';
import { waitFor } from '../cli/wait';
import { setTimeout as sleep } from 'node:timers/promises';

/** Replicas as separate processes (dist/app/src/main.js), as in Kubernetes and the local stack. */
describe('chat replicas as processes on one Redis', () => {
  let redis: TestRedis;
  let a: ReplicaProcess;
  let b: ReplicaProcess;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([
      spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'replica-a' }),
      spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'replica-b' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await redis?.dispose();
  });

  it('relays a message posted to one replica to the live-feed clients of the other', async () => {
    const feedA = await SseClient.open(`${a.url}/api/events`);
    const feedB = await SseClient.open(`${b.url}/api/events`);
    try {
      expect(JSON.parse((await feedB.waitForEvent((e) => e.event === 'hello')).data)).toEqual({ replica: 'replica-b' });
      const toA = await httpRequest(`${a.url}/api/messages`, {
        method: 'POST',
        body: { author: 'ana', text: 'from a' },
      });
      expect(toA.json.replica).toBe('replica-a');
      await feedB.waitForEvent((e) => e.event === 'message');
      expect(feedB.messages()).toEqual([toA.json]);

      const toB = await httpRequest(`${b.url}/api/messages`, {
        method: 'POST',
        body: { author: 'bo', text: 'from b' },
      });
      await feedA.waitForEvent((e) => e.event === 'message' && JSON.parse(e.data).id === toB.json.id);
      expect(feedA.messages()).toEqual([toA.json, toB.json]);
      // Both read the same history.
      const history = await httpRequest(`${b.url}/api/messages`);
      expect(history.json.messages).toEqual([toA.json, toB.json]);
    } finally {
      feedA.close();
      feedB.close();
    }
  });

  it('survives a Redis restart in both processes and relays again afterwards', async () => {
    await redis.kill();
    await waitFor('both unready', async () =>
      (await Promise.all([a, b].map((r) => httpRequest(`${r.url}/readyz`)))).every((res) => res.status === 503),
    );
    for (const r of [a, b]) expect((await httpRequest(`${r.url}/healthz`)).status).toBe(200);
    await redis.start();
    await waitFor('both ready', async () =>
      (await Promise.all([a, b].map((r) => httpRequest(`${r.url}/readyz`)))).every((res) => res.status === 200),
    );
    const feedB = await SseClient.open(`${b.url}/api/events`);
    try {
      const sent = await httpRequest(`${a.url}/api/messages`, {
        method: 'POST',
        body: { author: 'ana', text: 'back' },
      });
      await feedB.waitForEvent((e) => e.event === 'message');
      expect(feedB.messages()).toEqual([sent.json]);
    } finally {
      feedB.close();
    }
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
  });
});

describe('chat replica process lifecycle', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.dispose());

  it('on SIGTERM ends live feeds, finishes the request in flight, and exits 0 well within 10 s', async () => {
    const replica = await spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'graceful', LOG_LEVEL: 'info' });
    const feed = await SseClient.open(`${replica.url}/api/events`);
    await feed.waitForEvent((e) => e.event === 'hello');

    // A POST whose body is still arriving when SIGTERM comes.
    const body = JSON.stringify({ author: 'late', text: 'in flight' });
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${replica.url}/api/messages`,
        {
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 500);
    });
    await sleep(100);

    const stopped = replica.stop('SIGTERM');
    await feed.ended;
    const done = await inFlight;
    expect(done.status).toBe(201);
    expect(JSON.parse(done.body)).toMatchObject({ author: 'late', text: 'in flight', replica: 'graceful' });

    const { code, ms } = await stopped;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(replica.output()).toMatch(/"msg":"shutting down"/);
    expect(replica.output()).toMatch(/"msg":"chat replica stopped"/);
    expect(await redis.client.llen('chat_history')).toBeGreaterThan(0);
  });

  it('exits 0 on SIGINT too', async () => {
    const replica = await spawnReplica({ REDIS_URL: redis.url });
    expect((await replica.stop('SIGINT')).code).toBe(0);
  });

  it('exits 1 with a message naming the variable when the config is bad', async () => {
    const { code, output } = await runReplicaToExit({ REDIS_URL: redis.url, HISTORY_LIMIT: 'lots' });
    expect(code).toBe(1);
    expect(output).toMatch(/HISTORY_LIMIT must be a whole number from 1 to 10000; got "lots"/);
  });

  it('exits 1 when its port is taken', async () => {
    const first = await spawnReplica({ REDIS_URL: redis.url });
    try {
      const port = new URL(first.url).port;
      const { code, output } = await runReplicaToExit({ REDIS_URL: redis.url, PORT: port, HOST: '127.0.0.1' });
      expect(code).toBe(1);
      expect(output).toMatch(/EADDRINUSE/);
    } finally {
      await first.stop();
    }
  });
});
