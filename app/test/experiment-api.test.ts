import { ChatApi } from '../experiment/api';
import { httpRequest } from '../local/http';
import { HISTORY_KEY } from '../src/chat-store';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';

/** The experiment reads the whole kept history through the service's pages, never in one response. */
describe('ChatApi.messages: the whole history, page by page', () => {
  let redis: TestRedis;
  let svc: TestService;
  const requested: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url, { HISTORY_LIMIT: '250' });
    await redis.client.del(HISTORY_KEY);
    const api = new ChatApi(svc.url);
    for (let i = 1; i <= 260; i++) expect((await api.post('a', `m${i}`)).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });

  const api = () =>
    new ChatApi(svc.url, (url, opts) => {
      requested.push(new URL(url).search);
      return httpRequest(url, opts);
    });

  it('reads all 250 kept messages, oldest first, in pages of at most 100', async () => {
    requested.length = 0;
    const all = await api().messages();
    expect(all.map((m) => m.text)).toEqual(Array.from({ length: 250 }, (_, i) => `m${i + 11}`));
    expect(requested).toHaveLength(3);
    expect(requested[0]).toBe('?limit=100');
    expect(requested[1]).toMatch(/^\?limit=100&before=\d+\.[0-9a-f]{40}$/);
  });

  it('reads just the last N across pages', async () => {
    const last = await api().messages(120);
    expect(last.map((m) => m.text)).toEqual(Array.from({ length: 120 }, (_, i) => `m${i + 141}`));
  });
});
