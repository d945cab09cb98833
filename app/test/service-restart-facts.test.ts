/**
 * The facts a verdict on a Redis restart is read off, as the HTTP interface gives them,
 * and cursors that carry their run: a replica process (dist/app/src/main.js) on a real
 * redis-server that is killed with SIGKILL and started again.
 */
import { httpRequest } from '../local/http';
import { loseLastWrites } from './helpers/aof';
import { startRedis, type TestRedis } from './helpers/redis';
import { spawnReplica, type ReplicaProcess } from './helpers/replica-process';
import { waitFor } from '../cli/wait';

const post = async (url: string, text: string) => {
  const res = await httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'a', text } });
  expect(res.status).toBe(201);
  return res.json as { id: string; text: string; run: string; position: number };
};
const texts = (res: { json: { messages: Array<{ text: string }> } }) => res.json.messages.map((m) => m.text);
const runIdOf = async (redis: TestRedis) => /run_id:(\w+)/.exec(await redis.client.info('server'))![1];

async function restart(redis: TestRedis, replica: ReplicaProcess, beforeStart?: () => void): Promise<void> {
  await redis.kill();
  beforeStart?.();
  await redis.start();
  await waitFor('the replica back', async () => (await httpRequest(`${replica.url}/readyz`)).status === 200, 15_000);
}

describe('a memory-only Redis restart', () => {
  let redis: TestRedis;
  let replica: ReplicaProcess;
  beforeAll(async () => {
    redis = await startRedis();
    replica = await spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'facts' });
  });
  afterAll(async () => {
    await replica?.stop('SIGKILL');
    await redis?.dispose();
  });

  it('a cursor from the Redis before gets 410, never the new Redis\'s messages as "older"', async () => {
    for (let i = 1; i <= 5; i++) await post(replica.url, `old ${i}`);
    const newest = await httpRequest(`${replica.url}/api/messages?limit=2`);
    expect(texts(newest)).toEqual(['old 4', 'old 5']);
    const cursor = newest.json.before as string;
    expect(texts(await httpRequest(`${replica.url}/api/messages?limit=2&before=${cursor}`))).toEqual([
      'old 2',
      'old 3',
    ]);

    await restart(redis, replica);
    for (let i = 1; i <= 5; i++) await post(replica.url, `new ${i}`);
    const stale = await httpRequest(`${replica.url}/api/messages?limit=2&before=${encodeURIComponent(cursor)}`);
    expect([stale.status, stale.json]).toEqual([
      410,
      { error: expect.stringMatching(/^this cursor is from another Redis run \(Redis restarted since\)/) },
    ]);
    // A bare position names no run: the same answer.
    const bare = await httpRequest(`${replica.url}/api/messages?before=3`);
    expect(bare.status).toBe(410);
    // The newest page, and its own cursor, work.
    const now = await httpRequest(`${replica.url}/api/messages?limit=2`);
    expect(texts(now)).toEqual(['new 4', 'new 5']);
    expect(texts(await httpRequest(`${replica.url}/api/messages?limit=2&before=${now.json.before}`))).toEqual([
      'new 2',
      'new 3',
    ]);
  });

  it('says which run stored each message, and that the new run started from nothing', async () => {
    const run = await runIdOf(redis);
    const status = (await httpRequest(`${replica.url}/api/status`)).json;
    expect(status.redis).toMatchObject({
      connected: true,
      persistence: 'memory',
      runId: run,
      startPosition: 0,
      runs: [{ runId: run, startPosition: 0 }],
      writable: true,
    });
    const history = await httpRequest(`${replica.url}/api/messages`);
    expect(history.json.redis).toEqual({
      runId: run,
      startPosition: 0,
      runs: [{ runId: run, startPosition: 0 }],
      persistence: 'memory',
      snapshotSeconds: null,
      managed: false,
      uptimeSeconds: expect.any(Number),
      writable: true,
    });
    expect(history.json.oldest).toBe(0);
    expect(history.json.messages.map((m: { run: string; position: number }) => [m.run, m.position])).toEqual(
      [0, 1, 2, 3, 4].map((p) => [run, p]),
    );
  });
});

describe('an AOF Redis that lost its tail in a restart', () => {
  it('names the position the reloaded Redis came back with, before and after its first write; an old cursor gets 410', async () => {
    const redis = await startRedis({ persistent: true });
    const replica = await spawnReplica({ REDIS_URL: redis.url, REPLICA_NAME: 'facts-aof', HISTORY_LIMIT: '5' });
    try {
      const a = await runIdOf(redis);
      const sent = [];
      for (let i = 1; i <= 4; i++) sent.push(await post(replica.url, `m${i}`));
      expect(sent.map((m) => [m.run, m.position])).toEqual([0, 1, 2, 3].map((p) => [a, p]));
      const cursor = (await httpRequest(`${replica.url}/api/messages?limit=1`)).json.before as string;

      // A power loss: m4 was acknowledged but never reached the disk.
      await restart(redis, replica, () => loseLastWrites(redis.dir, 1));
      const b = await runIdOf(redis);
      const before = (await httpRequest(`${replica.url}/api/status`)).json.redis;
      expect(before).toMatchObject({ runId: b, startPosition: 3, runs: [{ runId: a, startPosition: 0 }], messages: 3 });
      expect((await httpRequest(`${replica.url}/api/messages?limit=1&before=${cursor}`)).status).toBe(410);

      const m5 = await post(replica.url, 'm5');
      expect([m5.run, m5.position]).toEqual([b, 3]);
      const history = (await httpRequest(`${replica.url}/api/messages`)).json;
      expect(history.redis).toMatchObject({
        runId: b,
        startPosition: 3,
        runs: [
          { runId: a, startPosition: 0 },
          { runId: b, startPosition: 3 },
        ],
        persistence: 'aof',
      });
      expect(history.messages.map((m: { text: string; position: number }) => [m.text, m.position])).toEqual([
        ['m1', 0],
        ['m2', 1],
        ['m3', 2],
        ['m5', 3],
      ]);
    } finally {
      await replica.stop('SIGKILL');
      await redis.dispose();
    }
  });
});
