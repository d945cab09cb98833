/**
 * The bare ceiling: the chat's Redis work with nothing around it. A plain `node:http`
 * server, no framework, no validation library, no logging, no metrics, no rate limit.
 *
 * - POST /api/messages: parse the JSON body, ChatStore.append (the service's own
 *   append script: INCR + RPUSH + LTRIM + PUBLISH, one round trip), 201 with the message.
 * - GET /api/messages?limit=N: ChatStore.recent(N) as {messages}.
 * - GET /readyz: PING.
 *
 * It is a replica program: the benchmark runs it under the local stack's cluster
 * primary (app/local/replicas.ts), the same way and in the same number as the service,
 * and it reads the same environment (PORT, HOST, REDIS_URL, HISTORY_LIMIT, REPLICA_NAME).
 */
import http from 'node:http';
import { env, redis, serve, store } from './baseline-common';

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/api/messages' && req.method === 'POST') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      let input: { author: string; text: string };
      try {
        input = JSON.parse(body) as typeof input; // bare: no validation, as designed
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
      store.append({ author: input.author, text: input.text }, env.replica).then(
        (m) => send(res, 201, m),
        () => send(res, 503, { error: 'redis unavailable' }),
      );
    });
  } else if (path === '/api/messages' && req.method === 'GET') {
    const limit =
      Number(new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get('limit') ?? env.historyLimit) || env.historyLimit;
    store.recent(limit).then(
      (messages) => send(res, 200, { messages }),
      () => send(res, 503, { error: 'redis unavailable' }),
    );
  } else if (path === '/readyz') {
    redis.ping().then(
      () => send(res, 200, { ready: true }),
      () => send(res, 503, { ready: false }),
    );
  } else {
    send(res, 404, { error: 'not found' });
  }
});

serve(server);
