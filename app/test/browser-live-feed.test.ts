import type { Browser } from 'playwright-core';
import { launchChromium, watchProblems } from './helpers/browser';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';
import { SseClient } from './helpers/sse';
import { waitFor } from '../cli/wait';

/** The page against a replica whose live feed is full: it backs off, and goes live once there is room. */
describe('chat page when the live feed is full', () => {
  let redis: TestRedis;
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, { REPLICA_NAME: 'full', MAX_LIVE_STREAMS: '1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await redis?.dispose();
  });

  it('retries a refused stream after longer and longer waits, and goes live when a place frees up', async () => {
    const holder = await SseClient.open(`${svc.url}/api/events`);
    expect(holder.status).toBe(200);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    // The refused streams are expected; anything else (a script error, a CSP violation) is not.
    watchProblems(page, problems, /503/);
    const attempts: number[] = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname === '/api/events') attempts.push(Date.now());
    });
    try {
      await page.goto(svc.url);
      await page.locator('#connection', { hasText: 'reconnecting…' }).waitFor();
      // The first stream and three retries: after 1-2 s, 2-4 s, then 4-8 s.
      await waitFor('the first stream and three retries', () => attempts.length >= 4, 30_000, 100);
      const gaps = attempts.slice(1, 4).map((t, i) => t - attempts[i]);
      for (const [i, gap] of gaps.entries()) {
        expect(gap).toBeGreaterThanOrEqual(1000 * 2 ** i - 100);
        expect(gap).toBeLessThanOrEqual(2000 * 2 ** i + 500);
      }
      // History and status do not need the live feed.
      await page.locator('#redis-mode', { hasText: 'memory-only' }).waitFor();

      holder.close();
      // The next retry comes within 8-16 s.
      await page.locator('#connection', { hasText: 'live' }).waitFor({ timeout: 20_000 });
      await page.locator('#feed-replica', { hasText: 'full' }).waitFor();
      expect(problems).toEqual([]);
    } finally {
      holder.close();
      await context.close();
    }
  }, 60_000);
});
