/**
 * `--redis managed` on real processes: the chat replicas against a TLS-only redis-server
 * with a password, no AOF and RDB dumps (the local emulation of DigitalOcean Managed
 * Valkey). The replicas trust the emulation's CA only through NODE_EXTRA_CA_CERTS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { LocalStack } from '../local/stack';
import { launchChromium, watchProblems } from './helpers/browser';
import { SseClient } from './helpers/sse';

const LINE = '#messages li[data-event="redis-restart"]';
let tmp: string;
let stack: LocalStack;
let browser: Browser;
const problems: string[] = [];

async function json(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
const post = (author: string, text: string) =>
  json(`${stack.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author, text }),
  });

/** Resolves at the next "DB saved on disk" line of the emulated database: a dump finished. */
function nextDump(): Promise<void> {
  return new Promise((resolve) => {
    const onLine = (line: string) => {
      if (/DB saved on disk/.test(line)) {
        stack.redis.off('line', onLine);
        resolve();
      }
    };
    stack.redis.on('line', onLine);
  });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'managed-emulation-test-'));
  // The managed schedule compressed to 1 s, so a dump lands within the test.
  stack = new LocalStack({
    stack: 'stateful',
    redis: 'managed',
    snapshotSeconds: 1,
    port: 0,
    replicas: 2,
    dataDir: tmp,
    env: { RATE_LIMIT_PER_MIN: '0', LOG_LEVEL: 'warn' },
  });
  await stack.start();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the service against a TLS-only redis-server (the managed emulation)', () => {
  it('runs redis-server as the managed service does: TLS only, a password, no AOF, RDB on the schedule', async () => {
    expect(stack.redis.url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.plan.args).toEqual(['--appendonly', 'no', '--save', '1 1']);
    // Plain TCP is refused on the port: a client without TLS gets no answer.
    const plain = new Redis(stack.redis.port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
    });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
    // TLS without the password is refused; the certificate is the emulation's own CA's.
    const caFile = path.join(tmp, 'tls', 'ca.crt');
    const noAuth = new Redis(stack.redis.url, { tls: { ca: fs.readFileSync(caFile) }, maxRetriesPerRequest: 0 });
    noAuth.on('error', () => undefined);
    await expect(noAuth.set('x', '1')).rejects.toThrow(/NOAUTH/);
    noAuth.disconnect();
    // Node does not trust that CA by default: the replicas reach Redis only through NODE_EXTRA_CA_CERTS.
    await expect(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: stack.redis.port }, () => resolve(s.end()));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('says on /api/status which mode serves: managed, rdb snapshots and their interval', async () => {
    const s = await json(`${stack.url}/api/status`);
    expect(s.redis).toMatchObject({ connected: true, persistence: 'rdb', snapshotSeconds: 1, managed: true });
  });

  it('posts, pages the history, and streams the live feed', async () => {
    const feed = await SseClient.open(`${stack.url}/api/events`);
    const sent: string[] = [];
    for (let i = 1; i <= 5; i++) sent.push((await post('ana', `tls message ${i}`)).id);
    const first = await json(`${stack.url}/api/messages?limit=2`);
    expect(first.messages.map((m: any) => m.text)).toEqual(['tls message 4', 'tls message 5']);
    const older = await json(`${stack.url}/api/messages?limit=2&before=${first.before}`);
    expect(older.messages.map((m: any) => m.text)).toEqual(['tls message 2', 'tls message 3']);
    await feed.waitForEvent((e) => e.event === 'message' && JSON.parse(e.data).id === sent[4]);
    expect(feed.messages<{ id: string }>().map((m) => m.id)).toEqual(sent);
    feed.close();
  });

  it('shows the restart line after a kill: what was in the last dump came back', async () => {
    const context = await browser.newContext();
    const page: Page = await context.newPage();
    watchProblems(page, problems, /status of 503|Failed to load resource|EventSource/);
    await page.goto(stack.url);
    await page.locator('#connection', { hasText: 'live' }).waitFor();
    await page.locator('#redis-mode', { hasText: 'managed, RDB snapshots every 1 s' }).waitFor();

    const dumped = nextDump();
    await post('bo', 'in the dump');
    await dumped;
    await page.locator('#messages .message', { hasText: 'in the dump' }).waitFor();
    const { snapshotLoaded, aofLoaded } = await stack.killRedis();
    expect({ snapshotLoaded, aofLoaded }).toEqual({ snapshotLoaded: true, aofLoaded: false });
    await page.locator(LINE).waitFor({ timeout: 10_000 });
    expect(await page.locator(LINE).textContent()).toMatch(
      /^Redis restarted at .+ and reloaded its last snapshot: \d+ messages kept$/,
    );

    expect(problems).toEqual([]);
    await context.close();
  });

  it('on the real schedule (a dump at most every 10 minutes) a crash before the first dump loses what was written', async () => {
    const second = new LocalStack({
      stack: 'stateful',
      redis: 'managed',
      port: 0,
      replicas: 1,
      dataDir: path.join(tmp, 'real-schedule'),
      env: { RATE_LIMIT_PER_MIN: '0', LOG_LEVEL: 'warn' },
    });
    try {
      await second.start();
      expect(second.plan.args).toEqual(['--appendonly', 'no', '--save', '600 1']);
      const context = await browser.newContext();
      const page = await context.newPage();
      watchProblems(page, problems, /status of 503|Failed to load resource|EventSource/);
      await page.goto(second.url);
      await page.locator('#redis-mode', { hasText: 'managed, RDB snapshots every 10 min' }).waitFor();
      await page.fill('#author', 'cy');
      await page.fill('#text', 'between dumps');
      await page.press('#text', 'Enter');
      await page.locator('#messages .message', { hasText: 'between dumps' }).waitFor();
      expect((await second.killRedis()).snapshotLoaded).toBe(false);
      await page.locator(LINE).waitFor({ timeout: 10_000 });
      expect(await page.locator(LINE).textContent()).toMatch(
        /^Redis restarted at .+ and reloaded its last snapshot, but the message above is gone from the server \(written after that dump\)$/,
      );
      expect(problems).toEqual([]);
      await context.close();
    } finally {
      await second.stop();
    }
  });
});
