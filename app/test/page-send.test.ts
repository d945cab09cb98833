/**
 * Sending at most once (app/public/send.js, the page's ES module), over fake answers: an
 * answer that means "maybe stored" keeps the message and its key until a definite
 * answer, honouring Retry-After; "Not sent" only for what is surely not stored.
 */
import { MAX_WAIT_MS, NOT_STORED_TRIES, NotSent, createSender } from '../public/send.js';

type Answer = { status: number; retryAfter?: string | null; body?: unknown } | Error;

const STORED = { id: 'm1', author: 'a', text: 'hi', at: 'now', replica: 'r', run: 'A', position: 0 };
const maybe = {
  status: 503,
  retryAfter: '1',
  body: { error: 'Redis did not confirm the message in time', stored: null },
};
const notStored = { status: 503, retryAfter: '1', body: { error: 'Redis is unavailable; not stored', stored: false } };
const limited = { status: 429, retryAfter: '58', body: { error: 'too many messages' } };
const diskFull = { status: 507, body: { error: 'Redis cannot write to its disk', stored: false } };

function harness(answers: Answer[]) {
  const keys: string[] = [];
  const waits: number[] = [];
  const notices: Array<{ ms: number; reason: string; maybeStored: boolean }> = [];
  let n = 0;
  const sender = createSender({
    post: async (key) => {
      keys.push(key);
      const a = answers.shift();
      if (!a) throw new Error('no more answers');
      if (a instanceof Error) throw a;
      return a;
    },
    sleep: async (ms) => {
      waits.push(ms);
    },
    newKey: () => `key-${++n}`,
  });
  const send = (text = 'hi') => sender.send('a', text, (w) => notices.push(w));
  return { sender, send, keys, waits, notices };
}

describe('send.js: at most once, and never "not sent" for what may be stored', () => {
  it('returns the stored message on a 201, and forgets the key', async () => {
    const h = harness([{ status: 201, body: STORED }]);
    await expect(h.send()).resolves.toEqual(STORED);
    expect(h.sender.pending).toBeNull();
  });

  it('after a 503 "may or may not be stored", waits out a 429 with its Retry-After and asks again with the same key', async () => {
    const h = harness([maybe, limited, { status: 201, body: STORED }]);
    await expect(h.send()).resolves.toEqual(STORED);
    expect(h.keys).toEqual(['key-1', 'key-1', 'key-1']);
    expect(h.waits).toEqual([1000, 58_000]);
    expect(h.notices.map((n) => n.maybeStored)).toEqual([true, true]);
  });

  it('after a network error (no answer), keeps trying with the same key, backing off up to the longest wait', async () => {
    const h = harness([
      ...Array.from({ length: 7 }, () => new Error('Failed to fetch')),
      { status: 201, body: STORED },
    ]);
    await expect(h.send()).resolves.toEqual(STORED);
    expect(new Set(h.keys)).toEqual(new Set(['key-1']));
    expect(h.waits).toEqual([1000, 2000, 4000, 8000, 16_000, MAX_WAIT_MS, MAX_WAIT_MS]);
  });

  it('once maybe stored, a full disk, Redis away or another 5xx only make it wait: never "not sent"', async () => {
    const h = harness([maybe, diskFull, notStored, limited, { status: 500, body: {} }, { status: 201, body: STORED }]);
    await expect(h.send()).resolves.toEqual(STORED);
    expect(new Set(h.keys).size).toBe(1);
  });

  it('says "not sent" for what is surely not stored, and keeps the key with the text for the next try', async () => {
    const h = harness([limited, diskFull, { status: 201, body: STORED }]);
    await expect(h.send()).rejects.toEqual(new NotSent('too many messages'));
    expect(h.sender.pending).toMatchObject({ key: 'key-1', maybeStored: false });
    await expect(h.send()).rejects.toEqual(new NotSent('Redis cannot write to its disk'));
    await expect(h.send()).resolves.toEqual(STORED);
    expect(h.keys).toEqual(['key-1', 'key-1', 'key-1']);
  });

  it(`gives up on a message surely not stored after ${NOT_STORED_TRIES} tries, each after Retry-After`, async () => {
    const h = harness(Array.from({ length: NOT_STORED_TRIES }, () => notStored));
    await expect(h.send()).rejects.toBeInstanceOf(NotSent);
    expect(h.keys).toHaveLength(NOT_STORED_TRIES);
    expect(h.waits).toEqual(Array(NOT_STORED_TRIES - 1).fill(1000));
  });

  it('refused requests are not sent again; another text gets another key', async () => {
    const h = harness([
      { status: 400, body: { error: 'text must not be empty' } },
      { status: 422, body: { error: 'already used' } },
      { status: 201, body: STORED },
    ]);
    await expect(h.send()).rejects.toEqual(new NotSent('text must not be empty'));
    await expect(h.send()).rejects.toEqual(new NotSent('already used'));
    expect(h.sender.pending).toBeNull();
    await h.send('another');
    expect(h.keys).toEqual(['key-1', 'key-1', 'key-2']);
  });
});
