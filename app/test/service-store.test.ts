import { Redis } from 'ioredis';
import { ChatStore, HISTORY_KEY, MESSAGES_CHANNEL, parseMessage } from '../src/chat-store';
import { parseInfo } from '../src/redis-status';
import { startRedis, type TestRedis } from './helpers/redis';

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
    expect(m).toEqual({ id: expect.any(String), author: 'ana', text: 'hello', at: expect.any(String), replica: 'replica-a' });
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

  it('stores, trims and publishes in one MULTI/EXEC transaction', async () => {
    await redis.client.config('RESETSTAT');
    await store.append({ author: 'a', text: 'x' }, 'r');
    const stats = parseInfo(await redis.client.info('commandstats'));
    const calls = (cmd: string) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${cmd}`] ?? '')?.[1] ?? 0);
    expect([calls('multi'), calls('rpush'), calls('ltrim'), calls('publish'), calls('exec')]).toEqual([1, 1, 1, 1, 1]);
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
    expect(parseMessage('{"id":"x","author":"a","text":"t","at":"now"}')).toEqual({ id: 'x', author: 'a', text: 't', at: 'now', replica: '' });
  });

  it('recentJson() is recent() as JSON text (5 kept here): junk skipped, extra fields dropped, a missing replica filled in', async () => {
    await store.append({ author: 'a', text: 'as stored' }, 'r');
    await redis.client.rpush(
      HISTORY_KEY,
      '{"id":"x","author":"b","text":"extra","at":"now","replica":"r","admin":true}',
      '{"id":"y","author":"c","text":"no replica","at":"now"}',
      '{"id":"z","author":"d","text":"wrong replica","at":"now","replica":7}',
      '"a string"',
    );
    const json = await store.recentJson();
    expect(JSON.parse(json)).toEqual(await store.recent());
    expect(JSON.parse(json).map((m: { text: string }) => m.text)).toEqual(['as stored', 'extra', 'no replica', 'wrong replica']);
    expect(json).not.toContain('admin');
    // Read again (each item's verdict now remembered) and after the list moved on: the same answers as recent().
    expect(await store.recentJson()).toBe(json);
    for (let i = 0; i < 12; i++) await store.append({ author: 'a', text: `later ${i}` }, 'r');
    await redis.client.rpush(HISTORY_KEY, 'not json');
    expect(JSON.parse(await store.recentJson())).toEqual(await store.recent());
    expect(JSON.parse(await store.recentJson(2))).toEqual(await store.recent(2));
  });
});
