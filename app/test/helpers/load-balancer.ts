import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer that spreads requests, not connections, over its backends: each
 * request goes to the next backend in turn, whichever connection it came on (as
 * DigitalOcean's HTTP load balancer may: a page's status read and its history read can
 * land on different replicas). Responses are streamed as they come (the live feed works
 * through it). A backend that cannot be reached answers 502.
 */
export interface SpreadingBalancer {
  url: string;
  /** Which backend each request went to, in order: `${method} ${path} → ${index}`. */
  log: string[];
  close(): Promise<void>;
}

export async function spreadRequests(backends: string[]): Promise<SpreadingBalancer> {
  const agents = backends.map(() => new http.Agent({ keepAlive: true }));
  const log: string[] = [];
  let next = 0;
  const server = http.createServer((req, res) => {
    const i = next++ % backends.length;
    log.push(`${req.method} ${req.url} → ${i}`);
    const target = new URL(req.url ?? '/', backends[i]);
    const headers = { ...req.headers, host: target.host, 'x-forwarded-for': req.socket.remoteAddress ?? '' };
    const upstream = http.request(target, { method: req.method, headers, agent: agents[i] }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      // Streamed as it comes: an event stream's events, one by one.
      up.on('data', (chunk: Buffer) => res.write(chunk));
      up.on('end', () => res.end());
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message }));
    });
    // A client that goes away takes its upstream request with it (an event stream's slot).
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const a of agents) a.destroy();
    },
  };
}

/**
 * A TCP path to Redis that the test can cut: a replica whose REDIS_URL points here reaches
 * Redis only while the gate is open. Closing it drops its connections and refuses new ones,
 * as a network partition between one replica and Redis would.
 */
export interface TcpGate {
  url: string;
  open(): void;
  /** Drops every connection through it and refuses new ones until open(). */
  shut(): void;
  close(): Promise<void>;
}

export async function tcpGate(targetPort: number): Promise<TcpGate> {
  let isOpen = true;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    if (!isOpen) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dropAll = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    open: () => {
      isOpen = true;
    },
    shut: () => {
      isOpen = false;
      dropAll();
    },
    close: async () => {
      isOpen = false;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
