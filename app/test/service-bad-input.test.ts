import { httpRequest } from '../local/http';
import { HISTORY_KEY } from '../src/chat-store';
import { startRedis, type TestRedis } from './helpers/redis';
import { startTestService, type TestService } from './helpers/service';

/** Bad input gets a JSON error naming the problem and stores nothing. */
describe('chat service rejects bad input', () => {
  let redis: TestRedis;
  let svc: TestService;
  let history: string[];

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startTestService(redis.url);
    await redis.client.del(HISTORY_KEY);
    expect(
      (await httpRequest(`${svc.url}/api/messages`, { method: 'POST', body: { author: 'a', text: 'before' } })).status,
    ).toBe(201);
    history = await redis.client.lrange(HISTORY_KEY, 0, -1);
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.dispose();
  });
  afterEach(async () => {
    expect(await redis.client.lrange(HISTORY_KEY, 0, -1)).toEqual(history);
  });

  const json = { 'content-type': 'application/json' };
  const cases: [string, { body?: string; headers?: Record<string, string> }, number, RegExp][] = [
    ['empty text', { body: '{"author":"a","text":""}' }, 400, /^text must not be empty$/],
    ['whitespace-only text', { body: '{"author":"a","text":" \\n\\t "}' }, 400, /^text must not be empty$/],
    ['missing text', { body: '{"author":"a"}' }, 400, /^text is required$/],
    ['missing author', { body: '{"text":"hi"}' }, 400, /^author is required$/],
    ['empty author', { body: '{"author":"  ","text":"hi"}' }, 400, /^author must not be empty$/],
    [
      'zero-width text',
      { body: JSON.stringify({ author: 'a', text: '\u200b\u200c\u200d\u2060\ufeff' }) },
      400,
      /^text must not be empty$/,
    ],
    [
      'an author of blanks and bidi marks',
      { body: JSON.stringify({ author: '\u3164\u200e\u2800 \u00ad', text: 'hi' }) },
      400,
      /^author must not be empty$/,
    ],
    // Blank by Unicode property, not by a list: a variation selector, a Khmer inherent vowel, a
    // Mongolian free variation selector (all Default_Ignorable_Code_Point), tag characters.
    [
      'a text of U+FE0F only',
      { body: JSON.stringify({ author: 'a', text: '\ufe0f\ufe0f' }) },
      400,
      /^text must not be empty$/,
    ],
    [
      'a text of U+17B4 only',
      { body: JSON.stringify({ author: 'a', text: '\u17b4' }) },
      400,
      /^text must not be empty$/,
    ],
    [
      'a text of U+180B only',
      { body: JSON.stringify({ author: 'a', text: '\u180b\u180c' }) },
      400,
      /^text must not be empty$/,
    ],
    [
      'an author of tag characters and a variation selector',
      { body: JSON.stringify({ author: '\u{e0041}\u{e0042}\u{e0100}', text: 'hi' }) },
      400,
      /^author must not be empty$/,
    ],
    [
      'an author of control characters (NUL included)',
      { body: JSON.stringify({ author: '\u0000\u0007\u001b', text: 'hi' }) },
      400,
      /^author must not contain control characters$/,
    ],
    [
      'an author with a tab in it',
      { body: JSON.stringify({ author: 'a\tb', text: 'hi' }) },
      400,
      /^author must not contain control characters$/,
    ],
    [
      'a text with a control character other than a line break',
      { body: JSON.stringify({ author: 'a', text: 'hi\u0000there' }) },
      400,
      /^text must not contain control characters other than a line break$/,
    ],
    ['non-string text', { body: '{"author":"a","text":42}' }, 400, /^text must be a string$/],
    ['non-string author', { body: '{"author":{"$gt":""},"text":"hi"}' }, 400, /^author must be a string$/],
    ['null text', { body: '{"author":"a","text":null}' }, 400, /^text must be a string$/],
    ['both fields wrong', { body: '{"author":1}' }, 400, /^author must be a string; text is required$/],
    [
      'text over 500 characters',
      { body: JSON.stringify({ author: 'a', text: 'x'.repeat(501) }) },
      400,
      /^text must be at most 500 characters$/,
    ],
    [
      'author over 40 characters',
      { body: JSON.stringify({ author: 'a'.repeat(41), text: 'hi' }) },
      400,
      /^author must be at most 40 characters$/,
    ],
    ['a JSON array', { body: '[{"author":"a","text":"hi"}]' }, 400, /request body must be a JSON object/],
    ['a JSON string', { body: '"hello"' }, 400, /request body must be a JSON object/],
    ['JSON null', { body: 'null' }, 400, /request body must be a JSON object/],
    ['invalid JSON', { body: '{"author":"a","text":' }, 400, /^request body is not valid JSON$/],
    ['an empty body declared JSON', { body: '' }, 400, /request body must be a JSON object/],
    [
      'a body over 16 KB',
      { body: JSON.stringify({ author: 'a', text: 'x'.repeat(17 * 1024) }) },
      413,
      /^request body is larger than 16 KB$/,
    ],
    [
      'text/plain',
      { body: '{"author":"a","text":"hi"}', headers: { 'content-type': 'text/plain' } },
      415,
      /^Content-Type must be application\/json$/,
    ],
    [
      'a form post',
      { body: 'author=a&text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      /Content-Type must be application\/json/,
    ],
    ['no body and no content type', { headers: {} }, 415, /Content-Type must be application\/json/],
  ];

  it.each(cases.map(([name, req, status, error]) => ({ name, req, status, error })))(
    '$name → $status',
    async ({ req, status, error }) => {
      const res = await httpRequest(`${svc.url}/api/messages`, {
        method: 'POST',
        body: req.body,
        headers: req.headers ?? json,
      });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json.error).toMatch(error);
    },
  );

  it.each(['0', '-1', 'ten', '1.5', '', '101', '1000', '999999999', '12345678901', '007'])(
    'GET /api/messages?limit=%j → 400, never clamped',
    async (limit) => {
      const res = await httpRequest(`${svc.url}/api/messages?limit=${limit}`);
      expect([res.status, res.json]).toEqual([400, { error: 'limit must be a whole number from 1 to 100' }]);
    },
  );

  it.each([
    ['a repeated limit', 'limit=1&limit=2', /^limit must be a whole number from 1 to 100$/],
    ['a bracketed limit', 'limit[]=1', /^unknown query parameter "limit\[\]": use limit and before$/],
    ['an unknown parameter', 'page=2', /^unknown query parameter "page"/],
    ['a cursor that is not one', 'before=abc', /^before must be the "before" cursor of a previous page/],
    ['a repeated cursor', 'before=1&before=2', /^before must be/],
  ])('GET /api/messages with %s → 400', async (_name, query, error) => {
    const res = await httpRequest(`${svc.url}/api/messages?${query}`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(error);
  });

  it('accepts a message with zero-width characters around visible text', async () => {
    const res = await httpRequest(`${svc.url}/api/messages`, {
      method: 'POST',
      body: { author: 'a\u200d', text: '\u200bvisible' },
    });
    expect(res.status).toBe(201);
    await redis.client.rpop(HISTORY_KEY);
  });

  it('accepts line breaks in a text, an emoji with its variation selector, and a right-to-left name', async () => {
    const res = await httpRequest(`${svc.url}/api/messages`, {
      method: 'POST',
      body: { author: '\u202eana', text: 'line one\nline two \u2764\ufe0f' },
    });
    expect([res.status, res.json.text, res.json.author]).toEqual([201, 'line one\nline two \u2764\ufe0f', '\u202eana']);
    await redis.client.rpop(HISTORY_KEY);
  });
});

describe('chat service rate limit (RATE_LIMIT_PER_MIN)', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.dispose());

  const postFrom = (url: string, text: string) =>
    httpRequest(`${url}/api/messages`, { method: 'POST', body: { author: 'spam', text } });

  it('answers 429 once a client exceeds its posts per minute, storing nothing more', async () => {
    const svc = await startTestService(redis.url, { RATE_LIMIT_PER_MIN: '3' });
    try {
      await redis.client.del(HISTORY_KEY);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await postFrom(svc.url, `m${i}`)).status);
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      const res = await postFrom(svc.url, 'again');
      expect(res.json).toEqual({ error: 'too many messages: at most 3 per minute; try again shortly' });
      expect(res.headers['retry-after']).toBeDefined();
      expect(await redis.client.llen(HISTORY_KEY)).toBe(3);
      // Reading is not limited.
      expect((await httpRequest(`${svc.url}/api/messages`)).status).toBe(200);
    } finally {
      await svc.close();
    }
  });

  it('counts clients by X-Forwarded-For only when TRUST_PROXY says the proxy is trusted', async () => {
    const fromClient = (url: string, ip: string) =>
      httpRequest(`${url}/api/messages`, {
        method: 'POST',
        body: { author: 'a', text: 'x' },
        headers: { 'x-forwarded-for': ip },
      }).then((r) => r.status);
    const behindLb = await startTestService(redis.url, { RATE_LIMIT_PER_MIN: '1', TRUST_PROXY: '1' });
    const direct = await startTestService(redis.url, { RATE_LIMIT_PER_MIN: '1' });
    try {
      // Behind the load balancer: each client has its own allowance.
      expect([
        await fromClient(behindLb.url, '203.0.113.1'),
        await fromClient(behindLb.url, '203.0.113.2'),
        await fromClient(behindLb.url, '203.0.113.1'),
      ]).toEqual([201, 201, 429]);
      // Without a trusted proxy, a forged header does not buy a fresh allowance.
      expect([await fromClient(direct.url, '203.0.113.1'), await fromClient(direct.url, '203.0.113.2')]).toEqual([
        201, 429,
      ]);
    } finally {
      await behindLb.close();
      await direct.close();
    }
  });

  it('counts a forwarded value that is no IP address as the proxy itself, not as a fresh client', async () => {
    const fromClient = (url: string, forwarded: string) =>
      httpRequest(`${url}/api/messages`, {
        method: 'POST',
        body: { author: 'a', text: 'x' },
        headers: { 'x-forwarded-for': forwarded },
      }).then((r) => r.status);
    const behindLb = await startTestService(redis.url, { RATE_LIMIT_PER_MIN: '1', TRUST_PROXY: '1' });
    try {
      expect([
        await fromClient(behindLb.url, 'not-an-ip'),
        await fromClient(behindLb.url, 'also not'),
        await fromClient(behindLb.url, '203.0.113.9'),
      ]).toEqual([201, 429, 201]);
    } finally {
      await behindLb.close();
    }
  });

  it('has no limit with RATE_LIMIT_PER_MIN=0', async () => {
    const svc = await startTestService(redis.url, { RATE_LIMIT_PER_MIN: '0' });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 80 }, (_, i) => postFrom(svc.url, `m${i}`).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([201]));
    } finally {
      await svc.close();
    }
  });
});
