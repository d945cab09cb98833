/**
 * Sending and showing messages, in real headless Chromium against a chat replica process
 * (dist/app/src/main.js) and a real redis-server:
 * - a message that may be stored is never reported as not sent: it keeps its key and is
 *   sent again, after Retry-After, until the server gives a definite answer;
 * - a name cannot reorder what follows it, and stacked text cannot draw over other cards.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { httpRequest } from '../local/http';
import { HISTORY_KEY } from '../src/chat-store';
import { launchChromium, waitForEmptyInput, watchProblems } from './helpers/browser';
import { decodePng, pixelsUnlike } from './helpers/png';
import { startRedis, type TestRedis } from './helpers/redis';
import { spawnReplica, type ReplicaProcess } from './helpers/replica-process';

let browser: Browser;
const problems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
const contexts: BrowserContext[] = [];
beforeEach(() => {
  problems.length = 0;
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  expect(problems).toEqual([]);
});

async function openPage(url: string, viewport = { width: 900, height: 700 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  // The refusals these tests cause on purpose (a 503 while Redis pauses, a 429).
  watchProblems(page, problems, /status of (503|429)/);
  await page.goto(url);
  await page.locator('#connection', { hasText: 'live' }).waitFor();
  return page;
}

describe('a send whose outcome is unknown', () => {
  let redis: TestRedis;
  let replica: ReplicaProcess;
  beforeAll(async () => {
    redis = await startRedis();
    // One post a minute: the retry of the first post meets the rate limit.
    replica = await spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'limited', RATE_LIMIT_PER_MIN: '1' });
  });
  afterAll(async () => {
    await replica?.stop('SIGKILL');
    await redis?.dispose();
  });

  it('is kept with its key through a 503 "may or may not be stored" and a 429, sent again after Retry-After, and stored once', async () => {
    const page = await openPage(replica.url);
    const keys: string[] = [];
    const answers: number[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') keys.push(r.headers()['idempotency-key']);
    });
    page.on('response', (r) => {
      if (r.request().method() === 'POST') answers.push(r.status());
    });
    const notices: string[] = [];
    const watch = setInterval(() => {
      void page
        .locator('#notice')
        .textContent()
        .then((t) => t && notices[notices.length - 1] !== t && notices.push(t))
        .catch(() => undefined);
    }, 100);

    // Redis pauses while the page sends: the replica answers 503 after its 1.5 s command
    // timeout, then Redis wakes (here: as soon as that answer is out) and stores the message anyway.
    await page.fill('#author', 'ana');
    await page.fill('#text', 'through a pause');
    process.kill(redis.server.pid!, 'SIGSTOP');
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.status() === 503) process.kill(redis.server.pid!, 'SIGCONT');
    });
    const resume = setTimeout(() => process.kill(redis.server.pid!, 'SIGCONT'), 10_000);
    try {
      await page.press('#text', 'Enter');
      // The retry meets the rate limit (429, Retry-After about a minute): the page waits, and says why.
      await page
        .locator('#notice', { hasText: 'Not confirmed yet' })
        .waitFor({ timeout: 10_000 })
        .catch((err: Error) => {
          throw new Error(`${err.message}\nanswers ${JSON.stringify(answers)}, notices ${JSON.stringify(notices)}`);
        });
      await page.locator('#notice', { hasText: 'too many messages' }).waitFor({ timeout: 10_000 });
      expect(answers.slice(0, 2)).toEqual([503, 429]);
      // Enter again while it waits sends nothing new, and the text stays.
      await page.press('#text', 'Enter');
      expect(await page.inputValue('#text')).toBe('through a pause');
      // Once the rate window has passed, the same key gets its answer: the stored message.
      await waitForEmptyInput(page, '#text', 75_000);
    } finally {
      clearTimeout(resume);
      clearInterval(watch);
      process.kill(redis.server.pid!, 'SIGCONT');
    }
    expect(notices.filter((n) => n.startsWith('Not sent'))).toEqual([]);
    expect(answers).toEqual([503, 429, 201]);
    expect(new Set(keys).size).toBe(1);
    const stored = (await redis.client.lrange(HISTORY_KEY, 0, -1)).map((x) => JSON.parse(x).text);
    expect(stored).toEqual(['through a pause']);
    await page.locator('#messages li.message', { hasText: 'through a pause' }).waitFor();
    expect(await page.locator('#messages li.message').count()).toBe(1);
    expect(await page.locator('#notice').isHidden()).toBe(true);
  }, 120_000);
});

describe('what a message can draw', () => {
  let redis: TestRedis;
  let replica: ReplicaProcess;
  beforeAll(async () => {
    redis = await startRedis();
    replica = await spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'render' });
  });
  afterAll(async () => {
    await replica?.stop('SIGKILL');
    await redis?.dispose();
  });

  const post = async (author: string, text: string) =>
    expect((await httpRequest(`${replica.url}/api/messages`, { method: 'POST', body: { author, text } })).status).toBe(
      201,
    );

  it('isolates a name: a right-to-left override in it reorders only the name', async () => {
    await post('\u202eevil', 'hello');
    const page = await openPage(replica.url);
    const author = page.locator('#messages .message .author').first();
    await author.waitFor();
    expect(
      await author.evaluate((el) => [
        el.tagName,
        (globalThis as unknown as { getComputedStyle(e: unknown): { unicodeBidi: string } }).getComputedStyle(el)
          .unicodeBidi,
      ]),
    ).toEqual(['BDI', 'isolate']);
    // What follows the name (its time, the replica) is laid out left to right, after it.
    const [name, time] = await Promise.all([
      author.boundingBox(),
      page.locator('#messages .message time').first().boundingBox(),
    ]);
    expect(time!.x).toBeGreaterThan(name!.x + name!.width - 1);
  });

  it('keeps a long run of combining marks inside its card: the cards above and below stay clean', async () => {
    await redis.client.del(HISTORY_KEY);
    // Marks above and below, stacked on one letter: drawn far beyond the text's line.
    const above = Array.from({ length: 0x0314 - 0x0300 }, (_, i) => String.fromCodePoint(0x0300 + i)).join('');
    const below = Array.from({ length: 0x0333 - 0x0316 }, (_, i) => String.fromCodePoint(0x0316 + i)).join('');
    await post('ana', 'plain above');
    await post('zal', `Z${(above + below).repeat(7).slice(0, 400)}go`);
    await post('bo', 'plain below');
    const page = await openPage(replica.url, { width: 900, height: 900 });
    await page.locator('#messages .message', { hasText: 'plain below' }).waitFor();
    const cards = page.locator('#messages .message');
    expect(await cards.count()).toBe(3);
    for (const i of [0, 2]) {
      const card = cards.nth(i);
      // Its own content hidden: what is left in its box is its background, or what another card drew there.
      await card.evaluate((el) => {
        for (const child of Array.from(el.children))
          (child as { style: { visibility: string } }).style.visibility = 'hidden';
      });
      const box = (await card.boundingBox())!;
      const shot = await page.screenshot({
        clip: { x: box.x + 3, y: box.y + 3, width: box.width - 6, height: box.height - 6 },
      });
      const dirty = pixelsUnlike(decodePng(shot), [255, 255, 255]);
      expect({ card: i, dirty }).toEqual({ card: i, dirty: 0 });
    }
    // And nothing is wider than the page.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(
      0,
    );
  });
});
