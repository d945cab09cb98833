import { Redis } from 'ioredis';
import { ChatStore, HISTORY_KEY, MESSAGES_CHANNEL, parseMessage } from '../src/chat-store';
import { parseInfo } from '../src/redis-status';
import { startRedis, type TestRedis } from './helpers/redis';
import { waitFor } from '../cli/wait';

describe('ChatStore: chat history in a Redis list, announced on a channel', () => {
  let redis: TestRedis;
  let store: ChatStore;

  beforeAll(async () => {
    redis = await startRedis();
    store = new ChatStore(redis.client, { historyLimit: 5 });
  });
  afterAll(() => redis.dispose());
  beforeEach(() => redis.client.flushall());

  it('appends a message with id, time and replica to chat_history', async () => {
    const before = Date.now();
    const m = await store.append({ author: 'ana', text: 'hello' }, 'replica-a');
    expect(m).toEqual({
      id: expect.any(String),
      author: 'ana',
      text: 'hello',
      at: expect.any(String),
      replica: 'replica-a',
    });
    expect(new Date(m.at).getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(await redis.client.lrange(HISTORY_KEY, 0, -1)).toEqual([JSON.stringify(m)]);
    expect(await store.count()).toBe(1);
  });

  it('returns the most recent messages oldest first, never more than asked', async () => {
    for (const t of ['1', '2', '3', '4']) await store.append({ author: 'a', text: t }, 'r');
    expect((await store.recent(3)).map((m) => m.text)).toEqual(['2', '3', '4']);
    expect((await store.recent()).map((m) => m.text)).toEqual(['1', '2', '3', '4']);
    expect((await store.recent(1000)).length).toBe(4);
  });

  it('trims the list to the history limit as it appends', async () => {
    for (let i = 1; i <= 8; i++) await store.append({ author: 'a', text: String(i) }, 'r');
    expect(await redis.client.llen(HISTORY_KEY)).toBe(5);
    expect((await store.recent()).map((m) => m.text)).toEqual(['4', '5', '6', '7', '8']);
  });

  it('counts, stores, trims and publishes in one script run (one round trip, nothing in between)', async () => {
    await store.append({ author: 'a', text: 'loads the script' }, 'r');
    await redis.client.config('RESETSTAT');
    await store.append({ author: 'a', text: 'x' }, 'r');
    const stats = parseInfo(await redis.client.info('commandstats'));
    const calls = (cmd: string) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${cmd}`] ?? '')?.[1] ?? 0);
    expect([
      calls('evalsha'),
      calls('eval'),
      calls('incr'),
      calls('rpush'),
      calls('ltrim'),
      calls('publish'),
      calls('multi'),
    ]).toEqual([1, 0, 1, 1, 1, 1, 0]);
  });

  it('publishes each stored message on chat_messages', async () => {
    const sub = new Redis(redis.server.port, '127.0.0.1');
    try {
      const got = new Promise<string>((resolve) => sub.on('message', (_c, msg: string) => resolve(msg)));
      await sub.subscribe(MESSAGES_CHANNEL);
      const m = await store.append({ author: 'bo', text: 'live' }, 'r');
      expect(JSON.parse(await got)).toEqual(m);
    } finally {
      sub.disconnect();
    }
  });

  it('skips list entries that are not chat messages instead of failing the read', async () => {
    await store.append({ author: 'a', text: 'good' }, 'r');
    await redis.client.rpush(HISTORY_KEY, 'not json', '{"id":1}');
    expect((await store.recent()).map((m) => m.text)).toEqual(['good']);
    expect(parseMessage('{"id":"x","author":"a","text":"t","at":"now"}')).toEqual({
      id: 'x',
      author: 'a',
      text: 't',
      at: 'now',
      replica: '',
    });
  });

  const pageOf = async (limit = 5, before?: number, maxBytes = 1 << 20) => {
    const page = await store.page({ limit, before, maxBytes });
    return { ...page, messages: JSON.parse(page.json) as Array<{ text: string }> };
  };

  it('page() is recent() as JSON text (5 kept here): junk skipped, extra fields dropped, a missing replica filled in', async () => {
    await store.append({ author: 'a', text: 'as stored' }, 'r');
    await redis.client.rpush(
      HISTORY_KEY,
      '{"id":"x","author":"b","text":"extra","at":"now","replica":"r","admin":true}',
      '{"id":"y","author":"c","text":"no replica","at":"now"}',
      '{"id":"z","author":"d","text":"wrong replica","at":"now","replica":7}',
      '"a string"',
    );
    const { json } = await store.page({ limit: 5, maxBytes: 1 << 20 });
    expect(JSON.parse(json)).toEqual(await store.recent());
    expect(JSON.parse(json).map((m: { text: string }) => m.text)).toEqual([
      'as stored',
      'extra',
      'no replica',
      'wrong replica',
    ]);
    expect(json).not.toContain('admin');
    // Read again (each item's verdict now remembered) and after the list moved on: the same answers as recent().
    expect((await store.page({ limit: 5, maxBytes: 1 << 20 })).json).toBe(json);
    for (let i = 0; i < 12; i++) await store.append({ author: 'a', text: `later ${i}` }, 'r');
    await redis.client.rpush(HISTORY_KEY, 'not json');
    expect((await pageOf()).messages).toEqual(await store.recent());
    expect((await pageOf(2)).messages).toEqual(await store.recent(2));
  });

  it('pages back through the history with the before cursor, while messages are appended and trimmed', async () => {
    const big = new ChatStore(redis.client, { historyLimit: 7 });
    for (let i = 1; i <= 9; i++) await big.append({ author: 'a', text: `m${i}` }, 'r');
    const texts = (p: { json: string }) => (JSON.parse(p.json) as Array<{ text: string }>).map((m) => m.text);
    const newest = await big.page({ limit: 3, maxBytes: 1 << 20 });
    expect(texts(newest)).toEqual(['m7', 'm8', 'm9']);
    expect(newest.before).toBe(6);
    // Two more arrive (m3 and m4 are trimmed): the cursor still means "before m7".
    await big.append({ author: 'a', text: 'm10' }, 'r');
    await big.append({ author: 'a', text: 'm11' }, 'r');
    const older = await big.page({ limit: 3, before: newest.before!, maxBytes: 1 << 20 });
    expect(texts(older)).toEqual(['m5', 'm6']);
    expect(older.before).toBeNull();
    expect(texts(await big.page({ limit: 3, before: 5, maxBytes: 1 << 20 }))).toEqual(['m5']);
    expect(await big.page({ limit: 3, before: 4, maxBytes: 1 << 20 })).toEqual({ json: '[]', before: null });
    // A cursor past the newest (from before a memory-only Redis restarted) reads the newest page.
    expect(texts(await big.page({ limit: 3, before: 999, maxBytes: 1 << 20 }))).toEqual(['m9', 'm10', 'm11']);
  });

  it('counts positions from the list length when the list predates the counter', async () => {
    await redis.client.rpush(
      HISTORY_KEY,
      ...['o1', 'o2', 'o3'].map((t, i) =>
        JSON.stringify({ id: `${i}`, author: 'a', text: t, at: 'now', replica: 'r' }),
      ),
    );
    await store.append({ author: 'a', text: 'n1' }, 'r');
    const page = await pageOf(2);
    expect([page.messages.map((m) => m.text), page.before]).toEqual([['o3', 'n1'], 2]);
    expect((await pageOf(5, 2)).messages.map((m) => m.text)).toEqual(['o1', 'o2']);
  });

  it('keeps a page within its byte bound by dropping its oldest messages, yet always returns one', async () => {
    for (let i = 1; i <= 5; i++) await store.append({ author: 'a', text: `${i}`.repeat(100) }, 'r');
    const one = Buffer.byteLength(JSON.stringify(await store.recent(1)));
    const page = await pageOf(5, undefined, 2 * one);
    expect(Buffer.byteLength(page.json)).toBeLessThanOrEqual(2 * one);
    expect(page.messages.map((m) => m.text[0])).toEqual(['4', '5']);
    expect(page.before).toBe(3);
    expect((await pageOf(5, page.before!, 2 * one)).messages.map((m) => m.text[0])).toEqual(['2', '3']);
    expect((await pageOf(5, undefined, 10)).messages.map((m) => m.text[0])).toEqual(['5']);
  });

  it('appendOnce() stores a message once per idempotency key and returns the first one to a repeat', async () => {
    const sub = new Redis(redis.url);
    const heard: string[] = [];
    await sub.subscribe(MESSAGES_CHANNEL);
    sub.on('message', (_c, m) => heard.push(m));
    try {
      const first = await store.appendOnce({ author: 'a', text: 'once' }, 'r1', 'key-00000001');
      const again = await store.appendOnce({ author: 'a', text: 'once' }, 'r2', 'key-00000001');
      const other = await store.appendOnce({ author: 'a', text: 'once' }, 'r1', 'key-00000002');
      expect(first.replayed).toBe(false);
      expect(again).toEqual({ message: first.message, replayed: true });
      expect(other.replayed).toBe(false);
      expect(await store.count()).toBe(2);
      const ttl = await redis.client.ttl('chat_idempotency:key-00000001');
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
      await waitFor('both stored messages to be published', () => heard.length >= 2, 2000, 10);
      expect(heard.map((m) => JSON.parse(m).id)).toEqual([first.message.id, other.message.id]);
    } finally {
      sub.disconnect();
    }
  });
});
