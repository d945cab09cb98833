import http from 'node:http';
import type { ChatMessage } from '../src/chat-store';
import { percentile, ms, Samples } from './load';
import { FeedClient } from './sse';

/**
 * Live-feed latency A→B: a POST answered by replica A, until a live-feed client served
 * by another replica B has the message. Messages are posted one after another (the
 * next when the previous has arrived), so each figure is the path's own latency:
 * HTTP + the append script (its PUBLISH) on A, Redis fan-out, B's subscriber, B's SSE write.
 *
 * The local stack's replicas share one port, so we cannot pick a replica; instead we
 * open live-feed clients on new connections until they sit on at least two replicas
 * (the hello event names each one's replica), and for each message measure at a client
 * whose replica differs from the message's `replica` (the one that stored it).
 */
export interface FeedResult {
  messages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lost: number;
  replicas: string[];
}

const MAX_CLIENTS = 8;
const ARRIVAL_TIMEOUT_MS = 2000;

function post(agent: http.Agent, baseUrl: string, text: string): Promise<{ status: number; replica?: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ author: 'bench-feed', text });
    const req = http.request(
      `${baseUrl}/api/messages`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => {
          let replica: string | undefined;
          try {
            replica = (JSON.parse(data) as Partial<ChatMessage>).replica; // the stored message
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, replica });
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('POST /api/messages timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function measureFeed(
  baseUrl: string,
  count: number,
  opts: { warmup: number; onProgress?: (done: number) => void },
): Promise<FeedResult> {
  const clients: FeedClient[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (new Set(clients.map((c) => c.replica)).size < 2) {
      if (clients.length >= MAX_CLIENTS) {
        throw new Error(
          `${MAX_CLIENTS} live-feed clients all landed on replica ${clients[0]?.replica}: the feed needs at least 2 replicas`,
        );
      }
      clients.push(await new FeedClient().open(baseUrl));
    }
    const run = `${process.pid}-${Date.now()}`;
    const latencies = new Samples();
    let lost = 0;
    for (let i = 0; i < opts.warmup + count; i++) {
      const text = `feed ${run} ${i}`;
      const t0 = performance.now();
      const res = await post(agent, baseUrl, text);
      if (res.status !== 201 || !res.replica)
        throw new Error(`POST /api/messages answered ${res.status} during the feed probe`);
      const target = clients.find((c) => c.replica !== res.replica)!;
      const at = await target.arrival(text, ARRIVAL_TIMEOUT_MS);
      for (const c of clients) if (c !== target) c.forget(text);
      if (i < opts.warmup) continue;
      if (at === undefined) lost++;
      else latencies.push(at - t0);
      if (opts.onProgress && i % 50 === 0) opts.onProgress(i - opts.warmup);
    }
    const sorted = latencies.sorted();
    return {
      messages: count,
      p50Ms: ms(percentile(sorted, 50)),
      p99Ms: ms(percentile(sorted, 99)),
      maxMs: ms(sorted.length ? sorted[sorted.length - 1] : NaN),
      lost,
      replicas: [...new Set(clients.map((c) => c.replica))].sort(),
    };
  } finally {
    for (const c of clients) c.close();
    agent.destroy();
  }
}
