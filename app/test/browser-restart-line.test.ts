/**
 * The restart line tells the truth in the conditions that made it lie (issue 18): the
 * page in real headless Chromium, real chat replica processes (dist/app/src/main.js) and
 * a real redis-server, killed with SIGKILL.
 *
 * - A stateful Redis loses its last acknowledged write (a power loss), and others fill
 *   the history before the page reads it again: the loss is counted, never "kept".
 * - Behind a load balancer that spreads requests, one replica reaches the new Redis 8 s
 *   after the other: the page keeps trying, and what was posted after the restart comes
 *   below the line, memory-only or AOF.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page, Route } from 'playwright-core';
import { httpRequest } from '../local/http';
import { loseLastWrites } from './helpers/aof';
import { conversation, launchChromium, watchProblems } from './helpers/browser';
import { spreadRequests, tcpGate, type SpreadingBalancer, type TcpGate } from './helpers/load-balancer';
import { startRedis, type TestRedis } from './helpers/redis';
import { spawnReplica, type ReplicaProcess } from './helpers/replica-process';
import { waitFor } from '../cli/wait';

const LINE = '#messages li[data-event="redis-restart"]';

let browser: Browser;
const problems: string[] = [];
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(() => {
  problems.length = 0;
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  expect(problems).toEqual([]);
});

async function openPage(url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  // While Redis is down, or a replica cannot reach it, the browser logs the refused
  // requests and the dropped event stream; a script error or a CSP violation is something else.
  watchProblems(page, problems, /status of 50[23]|Failed to load resource|EventSource/);
  await page.goto(url);
  await page.locator('#connection', { hasText: 'live' }).waitFor();
  return page;
}

async function send(page: Page, author: string, text: string): Promise<void> {
  await page.fill('#author', author);
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await page.locator('#messages .message', { hasText: text }).waitFor({ timeout: 10_000 });
}

const post = async (url: string, text: string) => {
  const res = await httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'others', text } });
  expect(res.status).toBe(201);
  return res.json as { id: string };
};

async function replica(env: Record<string, string>): Promise<ReplicaProcess> {
  const r = await spawnReplica(env);
  cleanup.push(() => r.stop('SIGKILL'));
  return r;
}

async function redisServer(opts: Parameters<typeof startRedis>[0]): Promise<TestRedis> {
  const r = await startRedis(opts);
  cleanup.push(() => r.dispose());
  return r;
}

it('a lost tail, then the history refilled past its limit before the page reads it: the loss is counted and greyed, never "kept"', async () => {
  const redis = await redisServer({ persistent: true });
  const a = await replica({ REDIS_URL: redis.url, REPLICA_NAME: 'replica-a', HISTORY_LIMIT: '5' });
  const page = await openPage(a.url);
  for (const text of ['one', 'two', 'three']) await send(page, 'ana', text);

  // From here the page cannot reach the server until the others have posted: its reads
  // wait, as a page on a slow network or a sleeping laptop would.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/api/**', async (route: Route) => {
    await held;
    await route.continue().catch(() => undefined);
  });

  // A power loss: "three" was acknowledged, but never reached the disk.
  await redis.kill();
  loseLastWrites(redis.dir, 1);
  await redis.start();
  await waitFor('the replica back', async () => (await httpRequest(`${a.url}/readyz`)).status === 200);
  // Five posts fill the history (HISTORY_LIMIT 5): "one" and "two" came back and are trimmed.
  for (let i = 1; i <= 5; i++) await post(a.url, `after ${i}`);
  release();

  await page.locator(LINE).waitFor({ timeout: 20_000 });
  const line = (await page.locator(LINE).textContent())!;
  expect(line).toMatch(
    /^Redis restarted at .+ and reloaded its append-only file, but the message above is gone from the server$/,
  );
  expect(await page.locator(LINE).getAttribute('data-outcome')).toBe('gone');
  await page.locator('#messages .message', { hasText: 'after 5' }).waitFor();
  expect(await conversation(page)).toEqual([
    'greyed: three',
    `line: ${line}`,
    ...[1, 2, 3, 4, 5].map((i) => `message: after ${i}`),
  ]);
});

describe.each([
  [
    'memory-only',
    false,
    /^Redis restarted at .+ with an empty memory: the conversation above is gone from the server$/,
  ],
  ['AOF', true, /^Redis restarted at .+ and reloaded its append-only file: 3 messages kept$/],
] as const)(
  '%s, behind a load balancer that spreads requests, one replica reaching the new Redis 8 s late',
  (_name, persistent, expected) => {
    let redis: TestRedis;
    let gate: TcpGate;
    let lb: SpreadingBalancer;
    let a: ReplicaProcess;

    it('the page keeps trying; messages posted after the restart come below the line, and the count is right', async () => {
      redis = await redisServer({ persistent });
      gate = await tcpGate(redis.server.port);
      cleanup.push(() => gate.close());
      a = await replica({ REDIS_URL: redis.url, REPLICA_NAME: 'replica-a' });
      const b = await replica({ REDIS_URL: gate.url, REPLICA_NAME: 'replica-late' });
      lb = await spreadRequests([a.url, b.url]);
      cleanup.push(() => lb.close());

      const page = await openPage(lb.url);
      for (const text of ['one', 'two', 'three']) await send(page, 'ana', text);

      // The late replica loses Redis and cannot reach the new one for 8 s.
      gate.shut();
      await redis.kill();
      await redis.start();
      await waitFor('replica-a back', async () => (await httpRequest(`${a.url}/readyz`)).status === 200);
      expect((await httpRequest(`${b.url}/readyz`)).status).toBe(503);
      const reopen = Date.now() + 8000;
      const after: string[] = [];
      // Others post to the replica that works, while the page's reads keep landing on both.
      while (Date.now() < reopen) {
        const text = `after ${after.length + 1}`;
        await post(a.url, text);
        after.push(text);
        await sleep(400);
      }
      gate.open();
      await waitFor('replica-late back', async () => (await httpRequest(`${b.url}/readyz`)).status === 200, 15_000);
      await post(a.url, 'last');
      after.push('last');

      await page.locator(LINE).waitFor({ timeout: 30_000 });
      await page.locator('#messages .message', { hasText: 'last' }).waitFor({ timeout: 20_000 });
      // A status poll after everything (every 10 s) must not change the verdict.
      await sleep(11_000);
      const line = (await page.locator(LINE).textContent())!;
      expect(line).toMatch(expected);
      expect(await page.locator(LINE).count()).toBe(1);
      const above = persistent
        ? ['message: one', 'message: two', 'message: three']
        : ['greyed: one', 'greyed: two', 'greyed: three'];
      expect(await conversation(page)).toEqual([...above, `line: ${line}`, ...after.map((t) => `message: ${t}`)]);
      // The late replica was asked too: the test is about it.
      expect(lb.log.filter((l) => / → 1$/.test(l)).length).toBeGreaterThan(3);
    });
  },
);

it('"Show older messages" with a cursor from before a restart: the server answers 410, and the page reads the newest page again instead of showing another run\'s messages as older', async () => {
  const redis = await redisServer({});
  const a = await replica({ REDIS_URL: redis.url, REPLICA_NAME: 'replica-a', HISTORY_LIMIT: '250' });
  for (let i = 1; i <= 120; i++) await post(a.url, `old ${i}`);
  const page = await openPage(a.url);
  await page.locator('#messages .message', { hasText: 'old 120' }).waitFor();
  await page.locator('#older').waitFor();

  // The page does not hear of the restart (its reads wait) until it asks for older messages.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route(/\/api\/(events|status|messages$)/, async (route: Route) => {
    await held;
    await route.continue().catch(() => undefined);
  });
  await redis.kill();
  await redis.start();
  await waitFor('the replica back', async () => (await httpRequest(`${a.url}/readyz`)).status === 200);
  for (let i = 1; i <= 120; i++) await post(a.url, `new ${i}`);
  const answered = page.waitForResponse((r) => r.url().includes('before='));
  await page.click('#older');
  expect((await answered).status()).toBe(410);
  release();

  await page.locator(LINE).waitFor({ timeout: 20_000 });
  await page.locator('#messages .message', { hasText: 'new 120' }).waitFor();
  const seen = await conversation(page);
  // Nothing of the new run above the line, nothing of the old run below it.
  const line = seen.findIndex((x) => x.startsWith('line: '));
  expect(seen.slice(0, line).every((x) => /^greyed: old \d+$/.test(x))).toBe(true);
  expect(seen.slice(line + 1)).toEqual(Array.from({ length: 100 }, (_, i) => `message: new ${i + 21}`));
  expect(await page.locator('#notice').isHidden()).toBe(true);
});
