import { Writable } from 'node:stream';
import pino from 'pino';
import { httpRequest } from '../local/http';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../cli/wait';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string; host: string; remoteAddress: string };
  res?: { statusCode: number };
  responseTime?: number;
  err?: { message: string };
}

/** The service's request log: one JSON line per request, at a level that says whose problem it is. */
describe('chat service request log', () => {
  let redis: TestRedis;
  let svc: TestService;
  const lines: LogLine[] = [];
  const requestLines = () => lines.filter((l) => l.msg === 'request completed');

  beforeAll(async () => {
    redis = await startRedis();
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    svc = await startTestService(redis.url, {}, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });
  beforeEach(() => {
    lines.length = 0;
  });

  /** Log lines are written after the response is sent: wait for the count to settle. */
  async function settled(count: number): Promise<LogLine[]> {
    await waitFor(`${count} request line(s)`, () => requestLines().length >= count, 2000, 10);
    await sleep(50); // and no more than that
    return requestLines();
  }

  it('writes one info line per request with method, URL, client, status and duration', async () => {
    const res = await httpRequest(`${svc.url}/api/messages?limit=3`);
    expect(res.status).toBe(200);
    const [line, ...more] = await settled(1);
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      reqId: expect.any(String),
      req: {
        method: 'GET',
        url: '/api/messages?limit=3',
        remoteAddress: '127.0.0.1',
        host: expect.stringMatching(/^127.0.0.1:/),
      },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
    });
    expect(line.err).toBeUndefined();
  });

  it('logs a client mistake at warn, and nothing for the probes and metrics', async () => {
    await httpRequest(`${svc.url}/healthz`);
    await httpRequest(`${svc.url}/readyz`);
    await httpRequest(`${svc.url}/metrics`);
    await httpRequest(`${svc.url}/api/messages`, { method: 'POST', body: { author: 'a' } });
    const logged = await settled(1);
    expect(logged.map((l) => [l.level, l.req?.url, l.res?.statusCode])).toEqual([[40, '/api/messages', 400]]);
  });

  it('logs a 503 at warn with the Redis cause in one line', async () => {
    process.kill(redis.server.pid!, 'SIGSTOP');
    try {
      const res = await httpRequest(`${svc.url}/api/messages`, { method: 'POST', body: { author: 'a', text: 'b' } });
      expect(res.status).toBe(503);
    } finally {
      process.kill(redis.server.pid!, 'SIGCONT');
    }
    const [line] = await settled(1);
    expect(line).toMatchObject({
      level: 40,
      res: { statusCode: 503 },
      err: { message: expect.stringMatching(/timed out|timeout/i) },
    });
  });
});
