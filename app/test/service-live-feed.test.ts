import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import net from 'node:net';
import { httpRequest, type HttpResponse } from '../local/http';
import { MESSAGES_CHANNEL } from '../src/chat-store';
import { frameChunk, rawChunkWriter } from '../src/node-http';
import { startRedis, type TestRedis } from './helpers/redis';
import { spawnReplica, type ReplicaProcess } from './helpers/replica-process';
import { startTestService, type TestService } from './helpers/service';
import { SseClient } from './helpers/sse';
import { waitFor } from '../cli/wait';

const post = (url: string, text: string) =>
  httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'a', text } });
const metrics = async (url: string) => (await httpRequest(`${url}/metrics`)).body;
const status = async (url: string) => (await httpRequest(`${url}/api/status`)).json;

/** A stored-message shape the live feed relays (published straight to Redis, as ChatStore.append does). */
const message = (i: number, text = `m${i}`) => ({
  id: `id-${i}`,
  author: 'a',
  text,
  at: new Date(0).toISOString(),
  replica: 'elsewhere',
});

/** Opens `count` streams and checks each got its 200 and hello. */
async function openStreams(url: string, count: number, headers: Record<string, string> = {}): Promise<SseClient[]> {
  const streams: SseClient[] = [];
  for (let i = 0; i < count; i++) {
    const s = await SseClient.open(`${url}/api/events`, headers);
    streams.push(s);
    expect(s.status).toBe(200);
    await s.waitForEvent((e) => e.event === 'hello');
  }
  return streams;
}

function expectRefused(res: HttpResponse, retryAfter: string, error: RegExp): void {
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe(retryAfter);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.json).toEqual({ error: expect.stringMatching(error) });
}

/**
 * A live-feed client on a raw socket that decodes the chunked body itself, so a test can
 * see how the events were written: one HTTP chunk per write. With `read: false` it never
 * reads (a reader that does not keep up).
 */
class RawStream {
  readonly socket: net.Socket;
  chunks: string[] = [];
  private raw = Buffer.alloc(0);
  private headDone = false;

  constructor(port: number, read = true) {
    this.socket = net.connect(port, '127.0.0.1', () =>
      this.socket.write('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'),
    );
    this.socket.on('error', () => undefined);
    if (read) this.socket.on('data', (d: Buffer) => this.onData(d));
    else this.socket.pause();
  }

  /** The SSE text of every chunk so far, joined. */
  get text(): string {
    return this.chunks.join('');
  }

  /** The `data:` lines of the unnamed events, parsed. */
  messages(): Array<{ id: string; text: string }> {
    return this.text
      .split('\n\n')
      .filter((block) => block.startsWith('data: '))
      .map((block) => JSON.parse(block.slice(6)));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.raw = Buffer.concat([this.raw, d]);
    if (!this.headDone) {
      const end = this.raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      expect(this.raw.toString('latin1', 0, end)).toMatch(/^HTTP\/1\.1 200[\s\S]*\r\ntransfer-encoding: chunked/i);
      this.raw = this.raw.subarray(end + 4);
      this.headDone = true;
    }
    for (;;) {
      const eol = this.raw.indexOf('\r\n');
      if (eol < 0) return;
      const size = parseInt(this.raw.toString('latin1', 0, eol), 16);
      if (this.raw.length < eol + 2 + size + 2) return;
      this.chunks.push(this.raw.toString('utf8', eol + 2, eol + 2 + size));
      expect(this.raw.toString('latin1', eol + 2 + size, eol + 4 + size)).toBe('\r\n');
      this.raw = this.raw.subarray(eol + 4 + size);
    }
  }
}

describe('the live feed is bounded: MAX_LIVE_STREAMS per replica', () => {
  let redis: TestRedis;
  let svc: TestService;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, {
      REPLICA_NAME: 'capped',
      MAX_LIVE_STREAMS: '3',
      MAX_STREAMS_PER_CLIENT: '0',
    });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });

  it('answers a stream over the cap 503 with Retry-After and a JSON error, and the replica stays healthy', async () => {
    const streams = await openStreams(svc.url, 3);
    try {
      expectRefused(await httpRequest(`${svc.url}/api/events`), '10', /maximum of 3 live-feed streams/);
      expectRefused(await httpRequest(`${svc.url}/api/events`), '10', /maximum of 3/);

      // Everything else still works, and the streams that are open still get messages.
      expect((await httpRequest(`${svc.url}/readyz`)).status).toBe(200);
      expect((await post(svc.url, 'still here')).status).toBe(201);
      for (const s of streams)
        await s.waitForEvent((e) => e.event === 'message' && JSON.parse(e.data).text === 'still here');

      expect(await status(svc.url)).toMatchObject({ liveFeed: { streams: 3, maxStreams: 3, maxStreamsPerClient: 0 } });
      const text = await metrics(svc.url);
      expect(text).toMatch(/^chat_live_feed_clients\{replica="capped"\} 3$/m);
      expect(text).toMatch(/^chat_live_feed_max_streams\{replica="capped"\} 3$/m);
      expect(text).toMatch(/^chat_live_feed_max_streams_per_client\{replica="capped"\} 0$/m);
      expect(text).toMatch(/^chat_live_feed_refused_total\{reason="replica_full",replica="capped"\} 2$/m);
      expect(text).toMatch(/^chat_live_feed_refused_total\{reason="client_limit",replica="capped"\} 0$/m);
      expect(text).toMatch(
        /^http_requests_total\{method="GET",route="\/api\/events",status="503",replica="capped"\} 2$/m,
      );

      // A stream that ends frees its place.
      streams.pop()!.close();
      await waitFor('the closed stream to be let go', async () => (await status(svc.url)).liveFeed.streams === 2);
      streams.push(...(await openStreams(svc.url, 1)));
    } finally {
      for (const s of streams) s.close();
    }
    await waitFor('every stream to be let go', async () => (await status(svc.url)).liveFeed.streams === 0);
  });
});

describe('the live feed is bounded: MAX_STREAMS_PER_CLIENT per client address', () => {
  let redis: TestRedis;
  let svc: TestService;

  beforeAll(async () => {
    redis = await startRedis();
    // Behind a proxy on loopback, the client address comes from X-Forwarded-For (TRUST_PROXY).
    svc = await startTestService(redis.url, {
      REPLICA_NAME: 'per-client',
      MAX_STREAMS_PER_CLIENT: '2',
      TRUST_PROXY: 'loopback',
    });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });

  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  it('answers a client over its cap 503 with Retry-After, while other clients still get streams', async () => {
    const streams = await openStreams(svc.url, 2, from('203.0.113.7'));
    try {
      expectRefused(
        await httpRequest(`${svc.url}/api/events`, { headers: from('203.0.113.7') }),
        '30',
        /at most 2 per replica/,
      );
      streams.push(...(await openStreams(svc.url, 2, from('203.0.113.8'))));
      // An IPv6 client counts by its /56, as the post rate limit does.
      streams.push(...(await openStreams(svc.url, 1, from('2001:db8:0:1::1'))));
      streams.push(...(await openStreams(svc.url, 1, from('2001:db8:0:2::1'))));
      expectRefused(
        await httpRequest(`${svc.url}/api/events`, { headers: from('2001:db8:0:3::1') }),
        '30',
        /at most 2/,
      );
      streams.push(...(await openStreams(svc.url, 1, from('2001:db8:1:100::1'))));

      expect((await post(svc.url, 'fine')).status).toBe(201);
      expect((await httpRequest(`${svc.url}/readyz`)).status).toBe(200);
      expect(await status(svc.url)).toMatchObject({
        liveFeed: { streams: 7, maxStreams: 4000, maxStreamsPerClient: 2 },
      });
      const text = await metrics(svc.url);
      expect(text).toMatch(/^chat_live_feed_refused_total\{reason="client_limit",replica="per-client"\} 2$/m);
      expect(text).toMatch(/^chat_live_feed_max_streams_per_client\{replica="per-client"\} 2$/m);

      // When one of its streams ends, the client may open another.
      streams.shift()!.close();
      await waitFor('the closed stream to be let go', async () => (await status(svc.url)).liveFeed.streams === 6);
      streams.push(...(await openStreams(svc.url, 1, from('203.0.113.7'))));
    } finally {
      for (const s of streams) s.close();
    }
  });
});

describe('live-feed fan-out', () => {
  let redis: TestRedis;
  let svc: TestService;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, { REPLICA_NAME: 'fan', MAX_STREAMS_PER_CLIENT: '0' }, { heartbeatMs: 200 });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });

  it('gives every client every message exactly once and in order, the messages of one turn in one write', async () => {
    const clients = Array.from({ length: 20 }, () => new RawStream(svc.port));
    try {
      await waitFor('20 streams open', async () => (await status(svc.url)).liveFeed.streams === 20);
      const flushes = async () =>
        Number(/^chat_live_feed_flush_seconds_count\{[^}]*\} (\d+)$/m.exec(await metrics(svc.url))?.[1]);
      const flushesBefore = await flushes();
      const count = 500;
      // One pipeline: the messages reach the replica together, as under load.
      const pipeline = redis.client.pipeline();
      for (let i = 0; i < count; i++) pipeline.publish(MESSAGES_CHANNEL, JSON.stringify(message(i)));
      await pipeline.exec();
      await waitFor('every message at every client', () => clients.every((c) => c.messages().length >= count), 10_000);
      for (const c of clients) {
        expect(c.messages().map((m) => m.id)).toEqual(Array.from({ length: count }, (_, i) => `id-${i}`));
        const withMessages = c.chunks.filter((chunk) => chunk.includes('data: {'));
        // Coalesced: far fewer writes than messages, and a write holds whole events.
        expect(withMessages.length).toBeLessThan(count / 5);
        for (const chunk of c.chunks) expect(chunk.endsWith('\n\n')).toBe(true);
      }
      // The replica counts its flushes (one write to every stream each).
      expect((await flushes()) - flushesBefore).toBeLessThan(count / 5);
      // Every client got the same writes (one Buffer for all).
      const writes = (c: RawStream) => c.chunks.filter((chunk) => chunk.includes('data: {'));
      for (const c of clients) expect(writes(c)).toEqual(writes(clients[0]));
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('drops a client that does not read once over 1 MB waits for it, and keeps serving the others', async () => {
    const before = Number(/^chat_live_feed_dropped_total\{[^}]*\} (\d+)$/m.exec(await metrics(svc.url))?.[1] ?? NaN);
    const slow = new RawStream(svc.port, false);
    const fast = new RawStream(svc.port);
    try {
      await waitFor('2 streams open', async () => (await status(svc.url)).liveFeed.streams === 2);
      // 800 messages of 10 KB: 8 MB, more than the kernel's socket buffers take in. (Much
      // larger messages make the Redis client's parser keep a timer that outlives the test.)
      const big = 'x'.repeat(10_000);
      for (let batch = 0; batch < 8; batch++) {
        const pipeline = redis.client.pipeline();
        for (let i = 0; i < 100; i++) pipeline.publish(MESSAGES_CHANNEL, JSON.stringify(message(batch * 100 + i, big)));
        await pipeline.exec();
      }
      await waitFor('the fast client to have every message', () => fast.messages().length === 800, 10_000);
      // Dropped at the next write, a message or a heartbeat (200 ms here).
      await waitFor(
        'the slow client to be dropped',
        async () => (await status(svc.url)).liveFeed.streams === 1,
        10_000,
      );
      expect(await metrics(svc.url)).toMatch(
        new RegExp(`^chat_live_feed_dropped_total\\{replica="fan"\\} ${before + 1}$`, 'm'),
      );

      expect((await post(svc.url, 'after the drop')).status).toBe(201);
      await waitFor('the fast client to get the next message', () =>
        fast.messages().some((m) => m.text === 'after the drop'),
      );
      expect((await httpRequest(`${svc.url}/readyz`)).status).toBe(200);
    } finally {
      slow.close();
      fast.close();
    }
  });

  it('keeps sending heartbeats to an idle stream, as their own writes', async () => {
    const c = new RawStream(svc.port);
    try {
      await waitFor('two heartbeats', () => c.chunks.filter((x) => x === ': keep-alive\n\n').length >= 2, 5000);
      expect(c.chunks[0]).toMatch(/^retry: 2000\nevent: hello\ndata: \{"replica":"fan"\}\n\n$/);
    } finally {
      c.close();
    }
  });
});

/**
 * A slot is held only by a stream that is really open, whatever Node reports about the
 * responses queued behind it (node-http.ts names what the live feed relies on in Node's
 * HTTP server; these run on every Node the tests run on). A replica process, raw sockets.
 */
describe('live-feed slots: pipelined requests, HEAD, HTTP/1.0, methods', () => {
  let redis: TestRedis;
  let replica: ReplicaProcess;
  let capped: ReplicaProcess;
  const port = (r: ReplicaProcess) => Number(new URL(r.url).port);
  const streams = async (r: ReplicaProcess) => (await status(r.url)).liveFeed.streams as number;

  beforeAll(async () => {
    redis = await startRedis();
    [replica, capped] = await Promise.all([
      spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'slots' }),
      spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'slots-capped', MAX_LIVE_STREAMS: '20' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([replica?.stop('SIGKILL'), capped?.stop('SIGKILL')]);
    await redis?.dispose();
  });

  /** One connection that sends `requests` back to back (HTTP/1.1 pipelining) and collects what comes back. */
  function pipelined(r: ReplicaProcess, requests: string[]): { socket: net.Socket; received: () => string } {
    let received = '';
    const socket = net.connect(port(r), '127.0.0.1', () => socket.write(requests.join('')));
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    return { socket, received: () => received };
  }
  const GET_EVENTS = 'GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n';

  it('counts one stream for 20 pipelined requests on one connection, and frees it when the connection closes', async () => {
    const c = pipelined(replica, Array(20).fill(GET_EVENTS));
    try {
      await waitFor('the first stream', () => c.received().includes('event: hello'));
      // The 19 behind it wait to become the connection's response: they hold nothing.
      await sleep(300);
      expect(await streams(replica)).toBe(1);
    } finally {
      c.socket.destroy();
    }
    await waitFor('the slot freed', async () => (await streams(replica)) === 0);
    // The address still has its whole allowance (MAX_STREAMS_PER_CLIENT 10).
    const open = await openStreamsOn(replica.url, 10);
    try {
      expect(await streams(replica)).toBe(10);
    } finally {
      for (const s of open) s.close();
    }
    await waitFor('all freed', async () => (await streams(replica)) === 0);
  });

  it('with MAX_LIVE_STREAMS=20, one connection of 20 pipelined requests does not make the replica refuse everyone', async () => {
    const c = pipelined(capped, Array(20).fill(GET_EVENTS));
    const others: SseClient[] = [];
    try {
      await waitFor('the first stream', () => c.received().includes('event: hello'));
      others.push(...(await openStreamsOn(capped.url, 5)));
      expect(await streams(capped)).toBe(6);
    } finally {
      c.socket.destroy();
      for (const s of others) s.close();
    }
    await waitFor('all freed', async () => (await streams(capped)) === 0);
  });

  it('starts a stream pipelined behind another request once that one is answered, and counts it once', async () => {
    const c = pipelined(replica, ['GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n', GET_EVENTS]);
    try {
      await waitFor('the status, then the stream', () => c.received().includes('event: hello'));
      expect(c.received()).toMatch(
        /^HTTP\/1\.1 200 [\s\S]*"replica":"slots"[\s\S]*HTTP\/1\.1 200 [\s\S]*text\/event-stream/,
      );
      expect(await streams(replica)).toBe(1);
      const sent = await post(replica.url, 'to the pipelined stream');
      expect(sent.status).toBe(201);
      await waitFor('the message on it', () => c.received().includes('to the pipelined stream'));
    } finally {
      c.socket.destroy();
    }
    await waitFor('the slot freed', async () => (await streams(replica)) === 0);
  });

  it('answers HEAD /api/events at once, with the stream headers and no stream', async () => {
    const began = Date.now();
    const res = await httpRequest(`${replica.url}/api/events`, { method: 'HEAD', timeoutMs: 3000 });
    expect(Date.now() - began).toBeLessThan(2000);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body).toBe('');
    expect(await streams(replica)).toBe(0);
  });

  it('serves the live feed to an HTTP/1.0 client, unframed, through res.write', async () => {
    const c = pipelined(replica, ['GET /api/events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n']);
    try {
      await waitFor('the hello', () => c.received().includes('event: hello'));
      expect(c.received()).not.toMatch(/transfer-encoding/i);
      await post(replica.url, 'to an old client');
      await waitFor('the message', () => c.received().includes('to an old client'));
      // No chunk sizes between the events: the body is the events as they are.
      const body = c.received().slice(c.received().indexOf('\r\n\r\n') + 4);
      expect(body).toMatch(/^retry: 2000\nevent: hello\ndata: \{"replica":"slots"\}\n\ndata: \{/);
      expect(await streams(replica)).toBe(1);
    } finally {
      c.socket.destroy();
    }
    await waitFor('the slot freed', async () => (await streams(replica)) === 0);
  });

  it.each([
    ['DELETE', '/api/messages', 'GET, HEAD, POST'],
    ['PUT', '/api/messages', 'GET, HEAD, POST'],
    ['POST', '/api/events', 'GET, HEAD'],
    ['POST', '/api/status', 'GET, HEAD'],
    ['POST', '/readyz', 'GET, HEAD'],
    ['DELETE', '/healthz', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const res = await httpRequest(`${replica.url}${path}`, { method });
    expect([res.status, res.headers.allow, res.json]).toEqual([
      405,
      allow,
      { error: `${method} is not allowed on ${path}: use ${allow}` },
    ]);
    const options = await httpRequest(`${replica.url}${path}`, { method: 'OPTIONS' });
    expect([options.status, options.headers.allow]).toEqual([204, allow]);
  });
});

async function openStreamsOn(url: string, count: number): Promise<SseClient[]> {
  const out: SseClient[] = [];
  for (let i = 0; i < count; i++) {
    const s = await SseClient.open(`${url}/api/events`);
    out.push(s);
    expect(s.status).toBe(200);
    await s.waitForEvent((e) => e.event === 'hello');
  }
  return out;
}

describe("node-http.ts: what the live feed relies on in Node's HTTP server, on this Node", () => {
  /** Serves one request with `handle`, sends `request` on a raw socket, resolves with the raw bytes received. */
  async function exchange(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void, request: string) {
    const server = http.createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      return await new Promise<string>((resolve) => {
        let got = '';
        const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () =>
          socket.write(request),
        );
        socket.on('data', (d) => (got += d.toString('latin1')));
        socket.on('close', () => resolve(got));
      });
    } finally {
      server.close();
    }
  }
  const body = (raw: string) => raw.slice(raw.indexOf('\r\n\r\n') + 4);

  it('frames a chunk exactly as res.write does, and writes it raw on an HTTP/1.1 response that owns its connection', async () => {
    const data = Buffer.from('data: {"é":"✓"}\n\n');
    const raw = await exchange((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Raw writes start once res.write's own have left (its callback).
      res.write(data, () => {
        const write = rawChunkWriter(req, res);
        expect(write).toBeDefined();
        write!(frameChunk(data));
        res.end();
      });
    }, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const framed = frameChunk(data).toString('latin1');
    expect(framed).toBe(`${data.length.toString(16)}\r\n${data.toString('latin1')}\r\n`);
    expect(body(raw)).toBe(`${framed}${framed}0\r\n\r\n`);
  });

  it('falls back to res.write for HTTP/1.0, and for a Node whose responses do not say they are chunked', async () => {
    let http10: unknown = 'unset';
    await exchange((req, res) => {
      res.writeHead(200);
      res.write('x');
      http10 = rawChunkWriter(req, res);
      res.end();
    }, 'GET / HTTP/1.0\r\n\r\n');
    expect(http10).toBeUndefined();
    // A Node whose responses no longer carry the field (or carry something else).
    const socket = new net.Socket();
    for (const value of [undefined, 'yes', 1])
      expect(
        rawChunkWriter(
          { socket } as http.IncomingMessage,
          { socket, chunkedEncoding: value } as unknown as http.ServerResponse,
        ),
      ).toBeUndefined();
    socket.destroy();
  });
});
