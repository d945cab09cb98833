import type { Browser, Page } from 'playwright-core';
import { HISTORY_KEY } from '../src/chat-store';
import { launchChromium, waitForEmptyInput, watchProblems } from './helpers/browser';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';
import { setTimeout as sleep } from 'node:timers/promises';

/** The page in real headless Chromium, two browsers on two replicas sharing one Redis. */
describe('chat page in a browser', () => {
  let redis: TestRedis;
  let replicaA: TestService;
  let replicaB: TestService;
  let browser: Browser;
  const problems: string[] = [];
  const dialogs: string[] = [];

  async function openPage(url: string, viewport = { width: 1000, height: 700 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // A 503 while Redis is down is expected; anything else (a CSP violation, a script error) is not.
    watchProblems(page, problems, /status of 503/);
    await page.goto(url);
    await page.locator('#connection', { hasText: 'live' }).waitFor();
    return page;
  }

  async function send(page: Page, author: string, text: string): Promise<void> {
    await page.fill('#author', author);
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }

  beforeAll(async () => {
    redis = await startRedis();
    [replicaA, replicaB] = await Promise.all([
      startTestService(redis.url, { REPLICA_NAME: 'replica-a' }),
      startTestService(redis.url, { REPLICA_NAME: 'replica-b' }),
    ]);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([replicaA?.close(), replicaB?.close()]);
    await redis?.dispose();
  });
  beforeEach(async () => {
    await redis.client.del(HISTORY_KEY);
    problems.length = 0;
    dialogs.length = 0;
  });
  afterEach(() => {
    expect(problems).toEqual([]);
  });

  it('shows a message typed on one replica live on the other, without reload, and names replica and mode', async () => {
    const [a, b] = await Promise.all([openPage(replicaA.url), openPage(replicaB.url)]);
    // 'live' is shown once the feed's hello named its replica.
    await expect(a.textContent('#feed-replica')).resolves.toBe('replica-a');
    await expect(b.textContent('#feed-replica')).resolves.toBe('replica-b');
    await b.locator('#redis-mode', { hasText: 'memory-only' }).waitFor();
    await b.locator('#messages-kept', { hasText: '0 / 100' }).waitFor();
    await b.evaluate('window.notReloaded = true');

    await send(a, 'ana', 'hello from replica a');
    // The page clears the input once the POST is answered 201.
    await waitForEmptyInput(a, '#text', 5000);
    const seen = b.locator('#messages .message', { hasText: 'hello from replica a' });
    await seen.waitFor({ timeout: 5000 });
    await expect(seen.locator('.author').textContent()).resolves.toBe('ana');
    await expect(seen.locator('.replica').textContent()).resolves.toBe('via replica-a');
    await b.locator('#messages-kept', { hasText: '1 / 100' }).waitFor();
    await expect(b.evaluate('window.notReloaded')).resolves.toBe(true);
    // The sender sees its own message exactly once (POST reply and live event are merged).
    await expect(a.locator('#messages .message').count()).resolves.toBe(1);
    await a.context().close();
    await b.context().close();
  });

  it('keeps text typed while the previous message is still being sent', async () => {
    const a = await openPage(replicaA.url);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await a.route('**/api/messages', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await held;
      await route.continue();
    });
    await send(a, 'ana', 'first');
    await a.fill('#text', 'second, typed meanwhile');
    release();
    await a.locator('#messages .message', { hasText: 'first' }).waitFor({ timeout: 5000 });
    await expect(a.inputValue('#text')).resolves.toBe('second, typed meanwhile');
    await a.context().close();
  });

  it('shows markup as text and runs nothing', async () => {
    const [a, b] = await Promise.all([openPage(replicaA.url), openPage(replicaB.url)]);
    const evil = '<img src=x onerror=alert(1)>';
    await send(a, '<b>bold</b>', evil);
    const seen = b.locator('#messages .message .text', { hasText: evil });
    await seen.waitFor({ timeout: 5000 });
    await expect(seen.textContent()).resolves.toBe(evil);
    await expect(b.locator('#messages .author').first().textContent()).resolves.toBe('<b>bold</b>');
    for (const page of [a, b]) {
      await expect(page.locator('#messages img, #messages b').count()).resolves.toBe(0);
    }
    // Also after a reload, when it comes from history.
    await b.reload();
    await b.locator('#messages .message .text', { hasText: evil }).waitFor();
    await expect(b.locator('#messages img').count()).resolves.toBe(0);
    await sleep(300);
    expect(dialogs).toEqual([]);
    await a.context().close();
    await b.context().close();
  });

  it('says "reconnecting…" while Redis is down and resyncs when it is back (the memory-only loss shows in the conversation)', async () => {
    const b = await openPage(replicaB.url);
    await send(b, 'ana', 'will be lost');
    await b.locator('#messages .message', { hasText: 'will be lost' }).waitFor();

    await redis.kill();
    await b.locator('#connection', { hasText: 'reconnecting…' }).waitFor({ timeout: 5000 });
    await send(b, 'ana', 'during the outage');
    await b.locator('#notice', { hasText: 'Redis is unavailable' }).waitFor({ timeout: 5000 });
    await expect(b.inputValue('#text')).resolves.toBe('during the outage');

    await redis.start();
    await b.locator('#connection', { hasText: 'live' }).waitFor({ timeout: 15_000 });
    // The new Redis is empty: the message stays on this page, greyed, under a line that says so.
    await b.locator('#messages [data-event="redis-restart"]', { hasText: 'gone' }).waitFor({ timeout: 5000 });
    await b.locator('#messages .message.lost', { hasText: 'will be lost' }).waitFor();
    await b.locator('#redis-uptime', { hasText: /^\d+s$/ }).waitFor();
    problems.length = 0; // the browser logs the failed POST and event-stream requests of the outage
    await b.context().close();
  });

  it('fits a phone-width screen', async () => {
    const phone = await openPage(replicaA.url, { width: 360, height: 640 });
    await send(phone, 'ana', 'a long message '.repeat(20) + 'without_any_break_'.repeat(10));
    await phone.locator('#messages .message').waitFor();
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    for (const sel of ['#author', '#text', '#composer button', '#status']) {
      const box = await phone.locator(sel).boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(360);
      expect(box!.y + box!.height).toBeLessThanOrEqual(640);
    }
    await phone.context().close();
  });

  it('retries a send that Redis could not confirm with the same Idempotency-Key, and stores it once', async () => {
    const page = await openPage(replicaA.url);
    const keys: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') keys.push(r.headers()['idempotency-key']);
    });
    // Redis hangs: the first POST times out (503, outcome unknown); Redis then runs it.
    process.kill(redis.server.pid!, 'SIGSTOP');
    // Paused past the first answer (503 at 1.5 s) and into the retry (at 2.5 s): Redis runs
    // both when it wakes, and the retry finds the key the first one set.
    const resume = setTimeout(() => process.kill(redis.server.pid!, 'SIGCONT'), 3000);
    try {
      await send(page, 'ana', 'through a pause');
      // The send is over when the page clears what it sent.
      await waitForEmptyInput(page, '#text', 20_000);
    } finally {
      clearTimeout(resume);
      process.kill(redis.server.pid!, 'SIGCONT');
    }
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/);
    const stored = (await redis.client.lrange(HISTORY_KEY, 0, -1)).map((x) => JSON.parse(x).text);
    expect(stored).toEqual(['through a pause']);
    expect(await page.locator('#messages li.message').count()).toBe(1);
    // The next message gets a key of its own.
    await send(page, 'ana', 'next');
    await page.locator('#messages li.message', { hasText: 'next' }).waitFor();
    expect(new Set(keys).size).toBe(2);
  });

  it('shows the newest page and loads older ones on request', async () => {
    const big = await startTestService(redis.url, { REPLICA_NAME: 'replica-big', HISTORY_LIMIT: '250' });
    let page: Page | undefined;
    try {
      for (let i = 1; i <= 150; i++)
        await redis.client.rpush(
          HISTORY_KEY,
          JSON.stringify({
            id: `m${i}`,
            author: 'a',
            text: `old ${i}`,
            at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
            replica: 'r',
          }),
        );
      page = await openPage(big.url);
      const texts = () => page!.locator('#messages li.message .text').allTextContents();
      await page.locator('#messages li.message', { hasText: 'old 150' }).waitFor();
      expect(await texts()).toEqual(Array.from({ length: 100 }, (_, i) => `old ${i + 51}`));
      await page.click('#older');
      await page.locator('#messages li.message .text', { hasText: /^old 1$/ }).waitFor();
      expect(await texts()).toEqual(Array.from({ length: 150 }, (_, i) => `old ${i + 1}`));
      expect(await page.locator('#older').isHidden()).toBe(true);
    } finally {
      // The page first: with its replica gone it would log the refused reconnects.
      await page?.context().close();
      await big.close();
    }
  });
});
