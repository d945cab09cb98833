/**
 * The framework's floor: bare Express 5 with express.json() and the same
 * ChatStore.append as the service, nothing else (no logging, metrics, helmet,
 * validation or rate limit). The service's POST target is measured against this:
 * what we add on top of the framework may cost at most 20%.
 *
 * - POST /api/messages: express.json(), ChatStore.append, 201 with the message.
 * - GET /readyz: PING (the local stack waits for it).
 *
 * A replica program like baseline-server.ts, run the same way and in the same number.
 */
import http from 'node:http';
import express from 'express';
import type { NewMessage } from '../src/chat-store';
import { env, redis, serve, store } from './baseline-common';

const app = express();
app.use(express.json());
app.post('/api/messages', async (req, res) => {
  try {
    const { author, text } = req.body as NewMessage; // bare: no validation, as designed
    res.status(201).json(await store.append({ author, text }, env.replica));
  } catch {
    res.status(503).json({ error: 'redis unavailable' });
  }
});
app.get('/readyz', async (_req, res) => {
  try {
    await redis.ping();
    res.json({ ready: true });
  } catch {
    res.status(503).json({ ready: false });
  }
});

serve(http.createServer(app));
