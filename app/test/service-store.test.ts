import { Redis } from 'ioredis';
import {
  APPENDED_KEY,
  ChatStore,
  CursorFromAnotherRun,
  HISTORY_KEY,
  MESSAGES_CHANNEL,
  RUNS_KEY,
  parseMessage,
  type ChatMessage,
  type Cursor,
} from '../src/chat-store';
import { parseInfo } from '../src/redis-status';
import { loseLastWrites } from './helpers/aof';
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

  const runId = async () => /run_id:(\w+)/.exec(await redis.client.info('server'))![1];

  it('appends a message with id, time, replica, the Redis run that stored it and its position to chat_history', async () => {
    const before = Date.now();
    const m = await store.append({ author: 'ana', text: 'hello' }, 'replica-a');
    expect(m).toEqual({
      id: expect.any(String),
      author: 'ana',
      text: 'hello',
      at: expect.any(String),
      replica: 'replica-a',
      run: await runId(),
      position: 0,
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
      run: '',
      position: -1,
    });
  });

  const at = async (position: number): Promise<Cursor> => ({ position, runId: await runId() });
  const pageOf = async (limit = 5, before?: number, maxBytes = 1 << 20) => {
    const page = await store.page({ limit, before: before === undefined ? undefined : await at(before), maxBytes });
    return { ...page, messages: JSON.parse(page.json) as Array<{ text: string }> };
  };

  it('page() is recent() as JSON text (5 kept here): junk skipped, extra fields dropped, a missing replica, run or position filled in', async () => {
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
    // An item from before runs were recorded gets run '' and the position it is read at.
    expect(JSON.parse(json).map((m: { run: string; position: number }) => [m.run === '', m.position])).toEqual([
      [false, 0],
      [true, 1],
      [true, 2],
      [true, 3],
    ]);
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
    const run = await runId();
    const newest = await big.page({ limit: 3, maxBytes: 1 << 20 });
    expect(texts(newest)).toEqual(['m7', 'm8', 'm9']);
    expect(newest.before).toBe(`6.${run}`);
    expect(newest.oldest).toBe(2);
    // Two more arrive (m3 and m4 are trimmed): the cursor still means "before m7".
    await big.append({ author: 'a', text: 'm10' }, 'r');
    await big.append({ author: 'a', text: 'm11' }, 'r');
    const older = await big.page({ limit: 3, before: await at(6), maxBytes: 1 << 20 });
    expect(texts(older)).toEqual(['m5', 'm6']);
    expect(older.before).toBeNull();
    expect(texts(await big.page({ limit: 3, before: await at(5), maxBytes: 1 << 20 }))).toEqual(['m5']);
    expect(await big.page({ limit: 3, before: await at(4), maxBytes: 1 << 20 })).toMatchObject({
      json: '[]',
      before: null,
    });
    // A cursor past the newest reads the newest page.
    expect(texts(await big.page({ limit: 3, before: await at(999), maxBytes: 1 << 20 }))).toEqual(['m9', 'm10', 'm11']);
    // A cursor from another Redis run (a restart since) reads nothing: its positions are another history's.
    await expect(
      big.page({ limit: 3, before: { position: 999, runId: 'f'.repeat(40) }, maxBytes: 1 << 20 }),
    ).rejects.toBeInstanceOf(CursorFromAnotherRun);
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
    expect([page.messages.map((m) => m.text), page.before]).toEqual([['o3', 'n1'], `2.${await runId()}`]);
    expect((await pageOf(5, 2)).messages.map((m) => m.text)).toEqual(['o1', 'o2']);
  });

  it('keeps a page within its byte bound by dropping its oldest messages, yet always returns one', async () => {
    for (let i = 1; i <= 5; i++) await store.append({ author: 'a', text: `${i}`.repeat(100) }, 'r');
    const one = Buffer.byteLength(JSON.stringify(await store.recent(1)));
    const page = await pageOf(5, undefined, 2 * one);
    expect(Buffer.byteLength(page.json)).toBeLessThanOrEqual(2 * one);
    expect(page.messages.map((m) => m.text[0])).toEqual(['4', '5']);
    expect(page.before).toBe(`3.${await runId()}`);
    expect((await pageOf(5, 3, 2 * one)).messages.map((m) => m.text[0])).toEqual(['2', '3']);
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

describe('ChatStore: the facts a verdict on a Redis restart is read off', () => {
  const runIdOf = async (r: TestRedis) => /run_id:(\w+)/.exec(await r.client.info('server'))![1];

  it('records the run that stored each message and the position each run started from: an AOF that lost its tail', async () => {
    const redis = await startRedis({ persistent: true });
    try {
      const store = new ChatStore(redis.client, { historyLimit: 5 });
      const a = await runIdOf(redis);
      for (const text of ['one', 'two', 'three']) await store.append({ author: 'a', text }, 'r');
      expect(await store.facts()).toMatchObject({
        runId: a,
        startPosition: 0,
        runs: [{ runId: a, startPosition: 0 }],
        persistence: 'aof',
        writable: true,
        messages: 3,
      });

      // A power loss: the acknowledged "three" never reached the disk.
      await redis.kill();
      loseLastWrites(redis.dir, 1);
      await redis.start();
      await waitFor('the client back', () => redis.client.status === 'ready');
      const b = await runIdOf(redis);
      expect(b).not.toBe(a);
      // Before its first write, the new run's start is what it came back with.
      expect(await store.facts()).toMatchObject({ runId: b, startPosition: 2, runs: [{ runId: a, startPosition: 0 }] });
      const page = await store.page({ limit: 5, maxBytes: 1 << 20 });
      expect(page.facts).toMatchObject({ runId: b, startPosition: 2 });
      expect((JSON.parse(page.json) as ChatMessage[]).map((m) => [m.text, m.run, m.position])).toEqual([
        ['one', a, 0],
        ['two', a, 1],
      ]);

      // Its first write records where it started, in the same transaction as the message.
      const four = await store.append({ author: 'a', text: 'four' }, 'r');
      expect([four.run, four.position]).toEqual([b, 2]);
      expect(await store.facts()).toMatchObject({
        runId: b,
        startPosition: 2,
        runs: [
          { runId: a, startPosition: 0 },
          { runId: b, startPosition: 2 },
        ],
      });
      expect(await redis.client.lrange(RUNS_KEY, 0, -1)).toEqual([`${a}:0`, `${b}:2`]);
    } finally {
      await redis.dispose();
    }
  });

  it('after a memory-only restart the new run starts from 0 and remembers no run before it', async () => {
    const redis = await startRedis();
    try {
      const store = new ChatStore(redis.client, { historyLimit: 5 });
      for (const text of ['one', 'two']) await store.append({ author: 'a', text }, 'r');
      await redis.kill();
      await redis.start();
      await waitFor('the client back', () => redis.client.status === 'ready');
      const b = await runIdOf(redis);
      expect(await store.facts()).toMatchObject({ runId: b, startPosition: 0, runs: [], persistence: 'memory' });
      const m = await store.append({ author: 'a', text: 'after' }, 'r');
      expect([m.run, m.position]).toEqual([b, 0]);
      expect(await redis.client.get(APPENDED_KEY)).toBe('1');
    } finally {
      await redis.dispose();
    }
  });
});
