import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { httpRequest } from '../local/http';
import { errorHandler } from '../src/errors';
import { UnsentBudget } from '../src/unsent-budget';
import { waitFor } from '../cli/wait';

/** History responses held for clients that do not read are bounded, like the live feed's streams. */
describe('UnsentBudget: what clients that do not read can make a replica hold', () => {
  const BODY = JSON.stringify({ blob: 'x'.repeat(8 * 1024 * 1024) });
  let server: http.Server;
  let url: string;
  let budget: UnsentBudget;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    budget = new UnsentBudget({ maxBytes: 12 * 1024 * 1024, stallMs: 1500 });
    const app = express();
    app.get('/big', (_req, res) => budget.sendJson(res, BODY));
    app.get('/small', (_req, res) => budget.sendJson(res, '{"ok":true}'));
    app.use(errorHandler);
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** A client that asks for the big response and never reads a byte of it. */
  async function stalledReader(): Promise<net.Socket> {
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    return socket;
  }

  it('answers 503 with Retry-After once stalled responses hold the budget, and cuts them after stallMs', async () => {
    const stalled = await stalledReader();
    await waitFor('a held response', () => budget.unsentBytes > 0, 2000, 20);
    expect(budget.unsentBytes).toBe(Buffer.byteLength(BODY));
    // Another big one would pass the budget: refused, and nothing more is held.
    const refused = await httpRequest(`${url}/big`);
    expect([refused.status, refused.headers['retry-after']]).toEqual([503, '1']);
    expect(refused.json.error).toMatch(/busy sending history to slow clients/);
    // Small reads still fit.
    expect((await httpRequest(`${url}/small`)).status).toBe(200);
    // The stalled reader is cut (its paused socket learns it once it reads), and its bytes are released.
    await waitFor('the held bytes released', () => budget.unsentBytes === 0, 5000, 20);
    expect(budget.unsentBytes).toBe(0);
    stalled.resume();
    expect((await httpRequest(`${url}/big`, { timeoutMs: 10_000 })).status).toBe(200);
  });
});
