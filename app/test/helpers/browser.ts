import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor } from '../../cli/wait';

/** Debian's Chromium, headless, with no background networking (this machine has no network). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * Collects what means the page is broken: script errors, and console errors except those
 * `expected` matches (a refused request the test causes on purpose); a CSP violation counts.
 */
export function watchProblems(page: Page, problems: string[], expected: RegExp): void {
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !expected.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
}

/**
 * Waits until an input is empty (the page clears what it sent once the POST is answered).
 * Polled from here: page.waitForFunction evaluates its predicate with eval in the page,
 * which the page's CSP (no 'unsafe-eval') refuses whenever the first check is false.
 */
export async function waitForEmptyInput(page: Page, selector: string, timeoutMs: number): Promise<void> {
  await waitFor(`${selector} to be empty`, async () => (await page.inputValue(selector)) === '', timeoutMs);
}

/** The list as the person sees it, top to bottom: a message's text, greyed or not, or a line's text. */
export function conversation(page: Page): Promise<string[]> {
  return page.$$eval('#messages > li', (items) =>
    items.map((li) => {
      if (li.classList.contains('event')) return `line: ${li.textContent}`;
      const text = li.querySelector('.text')?.textContent;
      return li.classList.contains('lost') ? `greyed: ${text}` : `message: ${text}`;
    }),
  );
}
