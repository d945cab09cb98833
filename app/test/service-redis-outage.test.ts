import { httpRequest } from '../local/http';
import { freePort } from '../local/ports';
import { HISTORY_KEY } from '../src/chat-store';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';
import { SseClient } from './helpers/sse';
import { waitFor } from '../cli/wait';
import { setTimeout as sleep } from 'node:timers/promises';

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const began = Date.now();
  const v = await f();
  return [v, Date.now() - began];
}

const post = (url: string, text: string) =>
  httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'a', text } });

describe('chat service while Redis is down', () => {
  let redis: TestRedis;
  let svc: TestService;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, { REPLICA_NAME: 'survivor' });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });

  it('answers 503 within 2 s, stays alive but unready, and serves again once Redis is back', async () => {
    expect((await post(svc.url, 'before')).status).toBe(201);
    const feed = await SseClient.open(`${svc.url}/api/events`);

    await redis.kill();

    // The live feed ends its streams, so browsers reconnect and resync later.
    await expect(Promise.race([feed.ended.then(() => 'ended'), sleep(2000, 'open')])).resolves.toBe('ended');

    const [posted, postMs] = await timed(() => post(svc.url, 'during'));
    // Redis is gone, so the command was never sent: surely not stored.
    expect([posted.status, posted.json]).toEqual([
      503,
      // `stored: false`: surely not stored (a client may send it again, best with the same key).
      { error: 'Redis is unavailable; the message was not stored: try again in a moment', stored: false },
    ]);
    expect(posted.headers['retry-after']).toBe('1');
    expect(postMs).toBeLessThan(2000);

    const [read, readMs] = await timed(() => httpRequest(`${svc.url}/api/messages`));
    expect(read.status).toBe(503);
    expect(read.json.error).toMatch(/Redis is unavailable/);
    expect(readMs).toBeLessThan(2000);

    const ready = await httpRequest(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json.error).toMatch(/redis/);
    expect((await httpRequest(`${svc.url}/healthz`)).status).toBe(200);
    expect((await httpRequest(`${svc.url}/api/events`)).status).toBe(503);
    expect((await httpRequest(`${svc.url}/api/status`)).json).toEqual({
      replica: 'survivor',
      historyLimit: 100,
      redis: {
        connected: false,
        persistence: null,
        snapshotSeconds: null,
        managed: null,
        uptimeSeconds: null,
        runId: null,
        startPosition: null,
        runs: null,
        writable: null,
        messages: null,
      },
      liveFeed: { streams: 0, maxStreams: 4000, maxStreamsPerClient: 10 },
    });
    expect((await httpRequest(`${svc.url}/metrics`)).body).toMatch(/^chat_redis_connected\{replica="survivor"\} 0$/m);

    // Same data directory, memory-only: Redis comes back empty. The replica is not restarted.
    await redis.start();
    await waitFor(
      '/readyz 200 after Redis restarted',
      async () => (await httpRequest(`${svc.url}/readyz`)).status === 200,
      10_000,
    );

    const again = await SseClient.open(`${svc.url}/api/events`);
    try {
      expect(again.status).toBe(200);
      const after = await post(svc.url, 'after');
      expect(after.status).toBe(201);
      await again.waitForEvent((e) => e.event === 'message');
      expect(again.messages()).toEqual([after.json]);
      const history = await httpRequest(`${svc.url}/api/messages`);
      expect(history.json.messages.map((m: { text: string }) => m.text)).toEqual(['after']);
      expect((await httpRequest(`${svc.url}/api/status`)).json.redis).toMatchObject({ connected: true, messages: 1 });
    } finally {
      again.close();
    }
  });

  it('answers 503 within 2 s when Redis hangs without closing the connection', async () => {
    await waitFor('ready', async () => (await httpRequest(`${svc.url}/readyz`)).status === 200);
    process.kill(redis.server.pid!, 'SIGSTOP');
    try {
      const [posted, postMs] = await timed(() => post(svc.url, 'into the void'));
      // The command went out and timed out: Redis may yet run it, so the outcome is unknown.
      expect(posted.status).toBe(503);
      expect(posted.json.error).toMatch(/may or may not be stored.*same Idempotency-Key/);
      // `stored: null`: unknown.
      expect(posted.json.stored).toBeNull();
      expect(postMs).toBeLessThan(2000);
      const [ready, readyMs] = await timed(() => httpRequest(`${svc.url}/readyz`));
      expect(ready.status).toBe(503);
      expect(readyMs).toBeLessThan(2000);
      expect((await httpRequest(`${svc.url}/healthz`)).status).toBe(200);
    } finally {
      process.kill(redis.server.pid!, 'SIGCONT');
    }
    await waitFor(
      '/readyz 200 after Redis resumed',
      async () => (await httpRequest(`${svc.url}/readyz`)).status === 200,
      10_000,
    );
    expect((await post(svc.url, 'resumed')).status).toBe(201);
  });
});

describe('chat service started before Redis', () => {
  it('serves 503 until Redis appears, then becomes ready by itself', async () => {
    const port = await freePort();
    const svc = await startTestService(`redis://127.0.0.1:${port}`, {}, { redisWaitMs: 100 });
    let redis: TestRedis | undefined;
    try {
      expect((await httpRequest(`${svc.url}/healthz`)).status).toBe(200);
      expect((await httpRequest(`${svc.url}/readyz`)).status).toBe(503);
      expect((await post(svc.url, 'early')).status).toBe(503);
      redis = await startRedis({ port });
      await waitFor(
        '/readyz 200 once Redis started',
        async () => (await httpRequest(`${svc.url}/readyz`)).status === 200,
        10_000,
      );
      expect((await post(svc.url, 'now')).status).toBe(201);
      expect(await redis.client.llen(HISTORY_KEY)).toBe(1);
    } finally {
      await svc.close();
      await redis?.dispose();
    }
  });
});
