import { httpRequest } from '../local/http';
import { HISTORY_KEY } from '../src/chat-store';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';
import { SseClient } from './helpers/sse';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../cli/wait';

const post = (url: string, body: unknown) => httpRequest(`${url}/api/messages`, { method: 'POST', body });

describe('chat service HTTP interface (memory-only Redis)', () => {
  let redis: TestRedis;
  let svc: TestService;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, { HISTORY_LIMIT: '5', REPLICA_NAME: 'replica-a' }, { heartbeatMs: 200 });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });
  beforeEach(() => redis.client.del(HISTORY_KEY));

  it('POST /api/messages stores the message and answers 201 with it', async () => {
    const res = await post(svc.url, { author: '  ana ', text: ' hello  ', extra: 'ignored' });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(String),
      author: 'ana',
      text: 'hello',
      at: expect.any(String),
      replica: 'replica-a',
      // The Redis run that stored it, and its append position (the restart line's facts).
      run: (await redis.client.info('server')).match(/run_id:(\w+)/)![1],
      position: expect.any(Number),
    });
    expect(new Date(res.json.at).toISOString()).toBe(res.json.at);
    const stored = await redis.client.lrange(HISTORY_KEY, 0, -1);
    expect(stored.map((s) => JSON.parse(s))).toEqual([res.json]);
  });

  it('drops a "__proto__" key like any other unknown field', async () => {
    const res = await httpRequest(`${svc.url}/api/messages`, {
      method: 'POST',
      body: '{"author":"a","text":"hi","__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    const [stored] = (await redis.client.lrange(HISTORY_KEY, 0, -1)).map((x) => JSON.parse(x));
    expect(Object.keys(stored).sort()).toEqual(['at', 'author', 'id', 'position', 'replica', 'run', 'text']);
  });

  it('GET /api/messages returns {messages}, oldest first, limited by ?limit and by HISTORY_LIMIT', async () => {
    for (let i = 1; i <= 7; i++) expect((await post(svc.url, { author: 'a', text: `m${i}` })).status).toBe(201);
    const all = await httpRequest(`${svc.url}/api/messages`);
    expect(all.status).toBe(200);
    expect(all.json.messages.map((m: { text: string }) => m.text)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    const two = await httpRequest(`${svc.url}/api/messages?limit=2`);
    expect(two.json.messages.map((m: { text: string }) => m.text)).toEqual(['m6', 'm7']);
    const many = await httpRequest(`${svc.url}/api/messages?limit=100`);
    expect(many.json).toEqual({ ...all.json, messages: all.json.messages, before: null });
    expect(Object.keys(all.json)).toEqual(['messages', 'before', 'oldest', 'redis']);
  });

  it('GET /api/messages pages back with the before cursor', async () => {
    for (let i = 1; i <= 5; i++) expect((await post(svc.url, { author: 'a', text: `m${i}` })).status).toBe(201);
    const newest = await httpRequest(`${svc.url}/api/messages?limit=2`);
    expect(newest.json.messages.map((m: { text: string }) => m.text)).toEqual(['m4', 'm5']);
    // A cursor names the Redis run it was read from.
    expect(newest.json.before).toMatch(/^\d+\.[0-9a-f]{40}$/);
    const older = await httpRequest(`${svc.url}/api/messages?limit=2&before=${newest.json.before}`);
    expect(older.json.messages.map((m: { text: string }) => m.text)).toEqual(['m2', 'm3']);
    const oldest = await httpRequest(`${svc.url}/api/messages?limit=2&before=${older.json.before}`);
    expect(oldest.json).toMatchObject({ messages: [expect.objectContaining({ text: 'm1' })], before: null });
  });

  it('stores a message once per Idempotency-Key: a retry answers with the stored message', async () => {
    const send = (text: string, key: string) =>
      httpRequest(`${svc.url}/api/messages`, {
        method: 'POST',
        body: { author: 'a', text },
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
      });
    const first = await send('only once', '"3f1e2a9c-0000-4000-8000-000000000001"');
    const retry = await send('only once', '"3f1e2a9c-0000-4000-8000-000000000001"');
    expect([first.status, retry.status]).toEqual([201, 201]);
    expect(retry.json).toEqual(first.json);
    expect([first.headers['idempotent-replayed'], retry.headers['idempotent-replayed']]).toEqual([undefined, 'true']);
    const misuse = await send('something else', '"3f1e2a9c-0000-4000-8000-000000000001"');
    expect([misuse.status, misuse.json.error]).toEqual([
      422,
      expect.stringMatching(/already used for a different message/),
    ]);
    const bad = await send('x', 'not a key!');
    expect([bad.status, bad.json.error]).toEqual([400, expect.stringMatching(/^Idempotency-Key must be/)]);
    expect((await redis.client.lrange(HISTORY_KEY, 0, -1)).map((x) => JSON.parse(x).text)).toEqual(['only once']);
  });

  it('GET /api/events streams each new message as an unnamed event, after a hello naming the replica', async () => {
    const sse = await SseClient.open(`${svc.url}/api/events`);
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(sse.headers['cache-control']).toMatch(/no-cache/);
      const hello = await sse.waitForEvent((e) => e.event === 'hello');
      expect(JSON.parse(hello.data)).toEqual({ replica: 'replica-a' });
      const sent = (await post(svc.url, { author: 'bo', text: 'live!' })).json;
      const ev = await sse.waitForEvent((e) => e.event === 'message');
      expect(JSON.parse(ev.data)).toEqual(sent);
      expect(sse.body).toMatch(/^retry: \d+\n/);
    } finally {
      sse.close();
    }
  });

  it('keeps an idle live feed open with heartbeat comments', async () => {
    const sse = await SseClient.open(`${svc.url}/api/events`);
    try {
      await sleep(700);
      expect(sse.comments).toBeGreaterThanOrEqual(2);
      expect(sse.messages()).toEqual([]);
    } finally {
      sse.close();
    }
  });

  it('GET /api/status reports the replica, the limit, what Redis says about itself and the live feed', async () => {
    await post(svc.url, { author: 'a', text: 'one' });
    const res = await httpRequest(`${svc.url}/api/status`);
    expect(res.status).toBe(200);
    const runId = (await redis.client.info('server')).match(/run_id:(\w+)/)![1];
    expect(res.json).toEqual({
      replica: 'replica-a',
      historyLimit: 5,
      redis: {
        connected: true,
        persistence: 'memory',
        snapshotSeconds: null,
        managed: false,
        uptimeSeconds: expect.any(Number),
        runId,
        // The restart line's facts: where this run started, and the runs that stored messages.
        startPosition: 0,
        runs: [{ runId, startPosition: 0 }],
        writable: true,
        messages: 1,
      },
      liveFeed: { streams: expect.any(Number), maxStreams: 4000, maxStreamsPerClient: 10 },
    });
  });

  it('GET /healthz and /readyz answer 200 while Redis is up', async () => {
    expect((await httpRequest(`${svc.url}/healthz`)).status).toBe(200);
    const ready = await httpRequest(`${svc.url}/readyz`);
    expect([ready.status, ready.json]).toEqual([200, { status: 'ready' }]);
  });

  it('GET /metrics exposes request, message, live-feed and Redis metrics in Prometheus text', async () => {
    await post(svc.url, { author: 'a', text: 'counted' });
    const sse = await SseClient.open(`${svc.url}/api/events`);
    try {
      await sse.waitForEvent((e) => e.event === 'hello');
      const res = await httpRequest(`${svc.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toMatch(
        /^http_requests_total\{method="POST",route="\/api\/messages",status="201",replica="replica-a"\} [1-9]/m,
      );
      expect(res.body).toMatch(
        /^http_request_duration_seconds_bucket\{le="0.1",[^}]*method="POST",route="\/api\/messages",status="201"\} [1-9]/m,
      );
      expect(res.body).toMatch(/^chat_messages_stored_total\{replica="replica-a"\} [1-9]/m);
      expect(res.body).toMatch(/^chat_live_feed_clients\{replica="replica-a"\} 1$/m);
      expect(res.body).toMatch(/^chat_redis_connected\{replica="replica-a"\} 1$/m);
      // The stream is a response like any other, for headers too.
      expect(sse.headers['x-replica']).toBe('replica-a');
      expect(sse.headers['content-security-policy']).toContain("default-src 'self'");
    } finally {
      sse.close();
    }
    // A live-feed stream is counted once it ends, under its route.
    const streams =
      /^http_requests_total\{method="GET",route="\/api\/events",status="200",replica="replica-a"\} [1-9]/m;
    const body = await waitFor(
      'the ended stream in /metrics',
      async () => {
        const metrics = (await httpRequest(`${svc.url}/metrics`)).body;
        return streams.test(metrics) && metrics;
      },
      5000,
    );
    expect(body).toMatch(streams);
  });

  it('serves the page with a CSP that allows no inline script', async () => {
    const res = await httpRequest(`${svc.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    // The page is ES modules: no build step, the same CSP.
    expect(res.body).toContain('<script type="module" src="app.js"></script>');
    expect(res.body).not.toMatch(/<script>(?!<)/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-replica']).toBe('replica-a');
    for (const file of ['app.js', 'verdict.js', 'render.js', 'live-feed.js', 'send.js', 'style.css', 'favicon.svg']) {
      expect((await httpRequest(`${svc.url}/${file}`)).status).toBe(200);
    }
  });

  it('sends no HSTS and no upgrade-insecure-requests without HTTPS_ONLY', async () => {
    const res = await httpRequest(`${svc.url}/`);
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(String(res.headers['content-security-policy'])).not.toContain('upgrade-insecure-requests');
  });

  it('answers unknown routes with 404 JSON, and another method on a known one with 405 and Allow', async () => {
    const res = await httpRequest(`${svc.url}/api/nope`);
    expect([res.status, res.json]).toEqual([404, { error: 'not found: GET /api/nope' }]);
    const del = await httpRequest(`${svc.url}/api/messages`, { method: 'DELETE' });
    expect([del.status, del.headers.allow]).toEqual([405, 'GET, HEAD, POST']);
  });
});

describe('chat service status with a persistent (AOF) Redis', () => {
  it('reports persistence "aof"', async () => {
    const redis = await startRedis({ persistent: true });
    const svc = await startTestService(redis.url);
    try {
      const res = await httpRequest(`${svc.url}/api/status`);
      expect(res.json.redis).toMatchObject({ connected: true, persistence: 'aof' });
    } finally {
      await svc.close();
      await redis.dispose();
    }
  });

  it('still knows the mode when CONFIG is disabled, from INFO persistence', async () => {
    const redis = await startRedis({ persistent: true, extraArgs: ['--rename-command', 'CONFIG', '""'] });
    const svc = await startTestService(redis.url);
    try {
      await expect(redis.client.config('GET', 'appendonly')).rejects.toThrow(/unknown command/i);
      const res = await httpRequest(`${svc.url}/api/status`);
      expect(res.json.redis).toMatchObject({ connected: true, persistence: 'aof' });
    } finally {
      await svc.close();
      await redis.dispose();
    }
  });

  it('authenticates with REDIS_PASSWORD', async () => {
    const redis = await startRedis({ password: 'pa55word' });
    const svc = await startTestService(redis.url, { REDIS_PASSWORD: 'pa55word' });
    try {
      expect((await httpRequest(`${svc.url}/readyz`)).status).toBe(200);
      expect((await post(svc.url, { author: 'a', text: 'auth' })).status).toBe(201);
    } finally {
      await svc.close();
      await redis.dispose();
    }
  });
});

describe('chat service behind HTTPS (HTTPS_ONLY=true, set by the program with chat:domain)', () => {
  it('pins HTTPS with Strict-Transport-Security and upgrades insecure requests, on the page, the API and the live feed', async () => {
    const redis = await startRedis();
    const svc = await startTestService(redis.url, { HTTPS_ONLY: 'true' });
    const sse = await SseClient.open(`${svc.url}/api/events`);
    try {
      for (const res of [await httpRequest(`${svc.url}/`), await httpRequest(`${svc.url}/api/messages`), sse]) {
        expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
        expect(String(res.headers['content-security-policy'])).toContain('upgrade-insecure-requests');
      }
    } finally {
      sse.close();
      await svc.close();
      await redis.dispose();
    }
  });
});
