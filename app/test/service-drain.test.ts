/**
 * What a chat pod does after its preStop wait (infra/chat-app.ts PRE_STOP_SECONDS): the
 * kubelet sends SIGTERM, and the replica must finish every request in flight, end every live
 * stream cleanly (browsers reconnect elsewhere), and be gone within DRAIN_SECONDS, the time
 * terminationGracePeriodSeconds counts on. Real processes: a redis-server and
 * `node dist/app/src/main.js`, as the container runs it.
 */
import http from 'node:http';
import { CONFIG_DEFAULTS } from '../src/config';
import { startRedis, type TestRedis } from './helpers/redis';
import { runReplicaToExit, spawnReplica } from './helpers/replica-process';

/** The drain the Deployment passes (infra/chat-app.ts DRAIN_SECONDS is this default; a test holds them equal). */
const DRAIN_SECONDS = CONFIG_DEFAULTS.drainSeconds;

/** `p`, or a failure naming what did not happen within `ms`. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface Stream {
  /** Resolves with how the response ended: 'end' once complete, anything else is a cut. */
  closed: Promise<'end' | 'aborted' | 'error'>;
  hello: Promise<void>;
}

/** A live-feed stream that tells a clean end (the chunked terminator arrived) from a cut connection. */
function openStream(url: string): Stream {
  let resolveHello!: () => void;
  const hello = new Promise<void>((r) => (resolveHello = r));
  const closed = new Promise<'end' | 'aborted' | 'error'>((resolve) => {
    const req = http.get(`${url}/api/events`, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.includes('event: hello')) resolveHello();
      });
      res.on('end', () => resolve(res.complete ? 'end' : 'aborted'));
      res.on('aborted', () => resolve('aborted'));
      res.on('error', () => resolve('error'));
    });
    req.on('error', () => resolve('error'));
  });
  return { closed, hello };
}

interface Post {
  status: Promise<{ status: number; body: string } | { error: string }>;
  /** Sends the rest of the body (for a POST whose body is still arriving). */
  finish(): void;
}

/** A POST of one message, its body sent all at once or (partial) only up to `finish()`. */
function post(url: string, text: string, opts: { partial?: boolean; agent?: http.Agent } = {}): Post {
  const body = JSON.stringify({ author: 'drain', text });
  let finish: () => void = () => undefined;
  const status = new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const req = http.request(
      `${url}/api/messages`,
      {
        method: 'POST',
        agent: opts.agent ?? false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (err) => resolve({ error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ error: err.message }));
    if (opts.partial) {
      req.write(body.slice(0, 7));
      finish = () => req.end(body.slice(7));
    } else {
      req.end(body);
    }
  });
  return { status, finish };
}

describe('a chat replica on SIGTERM (after the preStop wait)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.dispose());

  it('finishes every POST in flight, ends every live stream, and exits 0 within DRAIN_SECONDS', async () => {
    const replica = await spawnReplica({
      REDIS_URL: redis.url,
      REPLICA_NAME: 'draining',
      DRAIN_SECONDS: String(DRAIN_SECONDS),
      LOG_LEVEL: 'info',
      // All the streams come from 127.0.0.1.
      MAX_STREAMS_PER_CLIENT: '0',
    });
    const keepAlive = new http.Agent({ keepAlive: true });
    try {
      const streams = Array.from({ length: 25 }, () => openStream(replica.url));
      await within(5000, 'every stream to say hello', Promise.all(streams.map((s) => s.hello)));

      // Three kinds of POST in flight when SIGTERM arrives:
      // - bodies still arriving (they finish after the signal),
      const arriving = Array.from({ length: 5 }, (_, i) => post(replica.url, `arriving ${i}`, { partial: true }));
      // - whole requests waiting on Redis, whose writes are paused for 800 ms (within the
      //   service's 1.5 s command timeout), some on keep-alive connections,
      await redis.client.call('CLIENT', 'PAUSE', '800', 'WRITE');
      const waiting = Array.from({ length: 10 }, (_, i) =>
        post(replica.url, `waiting ${i}`, { agent: i % 2 === 0 ? keepAlive : undefined }),
      );
      await new Promise((r) => setTimeout(r, 150));

      const stopped = replica.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      for (const p of arriving) p.finish();

      const results = await within(
        DRAIN_SECONDS * 1000,
        'answer to every POST',
        Promise.all([...arriving, ...waiting].map((p) => p.status)),
      );
      for (const [i, r] of results.entries()) {
        expect({ i, result: 'status' in r ? r.status : r.error }).toEqual({ i, result: 201 });
      }
      const texts = results.map((r) => JSON.parse((r as { body: string }).body).text).sort();
      expect(texts).toEqual(
        [
          ...Array.from({ length: 5 }, (_, i) => `arriving ${i}`),
          ...Array.from({ length: 10 }, (_, i) => `waiting ${i}`),
        ].sort(),
      );
      // Stored, not only answered.
      const stored = (await redis.client.lrange('chat_history', 0, -1)).map((m) => JSON.parse(m).text);
      expect(stored).toEqual(expect.arrayContaining(texts));

      // Every stream ended with a complete response (EventSource reconnects), none was cut.
      expect(
        await within(DRAIN_SECONDS * 1000, 'end of every stream', Promise.all(streams.map((s) => s.closed))),
      ).toEqual(streams.map(() => 'end'));

      const { code, ms } = await stopped;
      expect(code).toBe(0);
      expect(ms).toBeLessThan(DRAIN_SECONDS * 1000);
      // Gone once the work is done (here about 1 s after SIGTERM: the 800 ms pause, then the
      // writes), not when the drain runs out, nor when the kept-alive connections the POSTs
      // came on would time out (Node's keepAliveTimeout, 5 s): their last responses close them.
      expect(ms).toBeLessThan(4000);
      expect(replica.output()).toMatch(/"msg":"shutting down"/);
      expect(replica.output()).toMatch(/"drainSeconds":10/);
      expect(replica.output()).toMatch(/"msg":"chat replica stopped"/);
    } finally {
      keepAlive.destroy();
      await replica.stop('SIGKILL');
    }
  });

  it('exits within DRAIN_SECONDS even when a client never finishes its request', async () => {
    // A short drain keeps the test quick; the bound is the same rule.
    const replica = await spawnReplica({ REDIS_URL: redis.url, DRAIN_SECONDS: '3' });
    const stuck = post(replica.url, 'never sent whole', { partial: true });
    await new Promise((r) => setTimeout(r, 100));
    const { code, ms } = await replica.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(3000);
    // Cut when the drain ran out, after at least the drain time minus the 2 s kept for closing.
    expect(ms).toBeGreaterThanOrEqual(1000 - 50);
    expect('error' in (await stuck.status) || ((await stuck.status) as { status: number }).status >= 400).toBe(true);
  });

  it('refuses a DRAIN_SECONDS outside 3..300 at start, naming it', async () => {
    const { code, output } = await runReplicaToExit({ REDIS_URL: redis.url, DRAIN_SECONDS: '1' });
    expect(code).toBe(1);
    expect(output).toMatch(/DRAIN_SECONDS must be a whole number from 3 to 300; got "1"/);
  });
});
