/**
 * The tutorial's experiment as a person sees it: the page in real headless Chromium
 * against the local stack (`npm start`: real redis-server with the Redis pod's flags,
 * chat replicas round-robin behind one port), Redis killed by the stack's own kill (what
 * `k` and `npm run kill-redis` do). The open page must say, in the conversation, that
 * Redis restarted and what became of the history.
 *
 * SCREENSHOT_DIR=app/docs npx jest app/test/browser-redis-restart.test.ts
 * also saves what the page shows after each stack's kill (the README's pictures).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { LocalStack } from '../local/stack';
import { repoRoot } from '../local/stack-config';
import { aofText, loseLastWrites } from './helpers/aof';
import { conversation, launchChromium, watchProblems } from './helpers/browser';
import { waitFor } from '../cli/wait';

const LINE = '#messages li[data-event="redis-restart"]';
/** The live feed's retry (2 s) plus a resync, with room for a slow machine. */
const RESYNC_MS = 10_000;

let browser: Browser;
let tmp: string;
const stacks: LocalStack[] = [];
const problems: string[] = [];

beforeAll(async () => {
  const main = path.join(repoRoot(), 'dist', 'app', 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error('dist/app/src/main.js is missing: run `npm run build` first');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-restart-test-'));
  problems.length = 0;
});
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
  expect(problems).toEqual([]);
});

/** The stack `npm start -- --stack <stack>` runs (its replicas, its Redis flags), on a free port. */
async function startStack(stack: 'stateless' | 'stateful'): Promise<LocalStack> {
  const s = new LocalStack({
    stack,
    port: 0,
    dataDir: path.join(tmp, stack),
    env: { RATE_LIMIT_PER_MIN: '0', LOG_LEVEL: 'warn' },
  });
  stacks.push(s);
  await s.start();
  return s;
}

async function openPage(url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 760, height: 400 } });
  const page = await context.newPage();
  // While Redis is down the browser logs the refused requests (503) and the dropped
  // event stream; a script error or a CSP violation is something else.
  watchProblems(page, problems, /status of 503|Failed to load resource|EventSource/);
  await page.goto(url);
  await page.locator('#connection', { hasText: 'live' }).waitFor();
  return page;
}

async function send(page: Page, author: string, text: string): Promise<void> {
  await page.fill('#author', author);
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await page.locator('#messages .message', { hasText: text }).waitFor({ timeout: 5000 });
}

/** The line's <time>: when the page says Redis restarted. */
async function lineTime(page: Page): Promise<number> {
  return Date.parse((await page.locator(`${LINE} time`).getAttribute('datetime'))!);
}

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.SCREENSHOT_DIR;
  if (dir) await page.screenshot({ path: path.join(path.resolve(repoRoot(), dir), name) });
}

describe('the page tells the experiment: a line in the conversation when Redis restarts', () => {
  it('stateless: the open pages say the conversation is gone from the server and grey it; later pages and a reload claim nothing', async () => {
    const stack = await startStack('stateless');
    expect(stack.replicas).toBeGreaterThan(1);
    const [a, b] = await Promise.all([openPage(stack.url), openPage(stack.url)]);
    await send(a, 'ana', 'first words');
    await send(b, 'bo', 'second words');
    await b.locator('#messages .message', { hasText: 'first words' }).waitFor();
    await a.locator('#messages .message', { hasText: 'second words' }).waitFor();

    const killed = Date.now();
    await stack.killRedis();
    for (const page of [a, b]) {
      await page.locator(LINE).waitFor({ timeout: RESYNC_MS });
      const line = (await page.locator(LINE).textContent())!;
      expect(line).toMatch(
        /^Redis restarted at .+ with an empty memory: the conversation above is gone from the server$/,
      );
      expect(line).not.toContain('kept');
      await expect(page.locator(LINE).getAttribute('role')).resolves.toBe('status');
      expect(Math.abs((await lineTime(page)) - killed)).toBeLessThan(5000);
      // Still visible, greyed, above the line: only this browser has them now.
      expect(await conversation(page)).toEqual(['greyed: first words', 'greyed: second words', `line: ${line}`]);
      const opacity = await page.evaluate<number>(
        "Number(getComputedStyle(document.querySelector('#messages .message.lost')).opacity)",
      );
      expect(opacity).toBeLessThan(1);
      await page.locator('#messages .message.lost .lost-mark', { hasText: 'no longer stored' }).first().waitFor();
    }
    // The status bar shows what it always shows.
    await a.locator('#redis-mode', { hasText: 'memory-only' }).waitFor();
    await screenshot(a, 'redis-restart-stateless.png');

    // The conversation goes on below the line, stored again.
    await send(b, 'bo', 'after the restart');
    await a.locator('#messages .message:not(.lost)', { hasText: 'after the restart' }).waitFor({ timeout: 5000 });
    expect((await conversation(a)).slice(2)).toEqual([expect.stringMatching(/^line: /), 'message: after the restart']);

    // A page opened after the restart saw nothing happen: it claims nothing.
    const late = await openPage(stack.url);
    await late.locator('#messages .message', { hasText: 'after the restart' }).waitFor();
    expect(await conversation(late)).toEqual(['message: after the restart']);

    // A reload shows the server's truth: no stale line, no greyed messages.
    await a.reload();
    await a.locator('#connection', { hasText: 'live' }).waitFor();
    await a.locator('#messages .message', { hasText: 'after the restart' }).waitFor();
    expect(await conversation(a)).toEqual(['message: after the restart']);

    for (const page of [a, b, late]) await page.context().close();
  });

  it('stateful: the open page says Redis reloaded its append-only file and how many messages it kept; a reload shows no stale line', async () => {
    const stack = await startStack('stateful');
    const [a, b] = await Promise.all([openPage(stack.url), openPage(stack.url)]);
    await send(a, 'ana', 'one');
    await send(b, 'bo', 'two');
    await send(a, 'ana', 'three');
    await b.locator('#messages .message', { hasText: 'three' }).waitFor();
    // everysec may hold a write back on a busy disk: kill once the AOF has all three (helpers/aof.ts).
    await waitFor('the AOF to hold all three', () => aofText(stack.redisDir).includes('three'), 10_000);

    const killed = Date.now();
    const { aofLoaded } = await stack.killRedis();
    expect(aofLoaded).toBe(true);
    for (const page of [a, b]) {
      await page.locator(LINE).waitFor({ timeout: RESYNC_MS });
      const line = (await page.locator(LINE).textContent())!;
      expect(line).toMatch(/^Redis restarted at .+ and reloaded its append-only file: 3 messages kept$/);
      expect(line).not.toContain('gone');
      expect(Math.abs((await lineTime(page)) - killed)).toBeLessThan(5000);
      expect(await conversation(page)).toEqual(['message: one', 'message: two', 'message: three', `line: ${line}`]);
    }
    await a.locator('#redis-mode', { hasText: 'AOF (persistent)' }).waitFor();
    await screenshot(a, 'redis-restart-stateful.png');

    await b.reload();
    await b.locator('#connection', { hasText: 'live' }).waitFor();
    await b.locator('#messages .message', { hasText: 'three' }).waitFor();
    expect(await conversation(b)).toEqual(['message: one', 'message: two', 'message: three']);
    for (const page of [a, b]) await page.context().close();
  });

  it('stateful: a message the page showed that the reloaded history lacks is counted as gone and greyed, never "kept"', async () => {
    const stack = await startStack('stateful');
    const page = await openPage(stack.url);
    for (const text of ['one', 'two', 'three']) await send(page, 'ana', text);

    // What `appendfsync everysec` allows in a power loss: the newest acknowledged write never
    // reached the disk. Kill Redis, cut it from the file, then let the stack start the new one.
    await stack.redis.kill();
    loseLastWrites(stack.redisDir, 1);
    await stack.killRedis();
    await page.locator(LINE).waitFor({ timeout: RESYNC_MS });
    const line = (await page.locator(LINE).textContent())!;
    expect(line).toMatch(
      /^Redis restarted at .+ and reloaded its append-only file, but 1 of the 3 messages above is gone from the server$/,
    );
    expect(line).not.toContain('kept');
    expect(await conversation(page)).toEqual(['message: one', 'message: two', 'greyed: three', `line: ${line}`]);

    // Everything lost in the next restart (the volume's files are gone): a second line, below the first.
    await stack.redis.kill();
    fs.rmSync(path.join(stack.redisDir, 'appendonlydir'), { recursive: true, force: true });
    await stack.killRedis();
    await page.locator(LINE).nth(1).waitFor({ timeout: RESYNC_MS });
    const second = (await page.locator(LINE).nth(1).textContent())!;
    expect(second).toMatch(
      /^Redis restarted at .+ and reloaded its append-only file, but both messages above are gone from the server$/,
    );
    expect(await conversation(page)).toEqual([
      'greyed: one',
      'greyed: two',
      'greyed: three',
      `line: ${line}`,
      `line: ${second}`,
    ]);
    await page.context().close();
  });
});
