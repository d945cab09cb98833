import net from 'node:net';
import type { Request } from 'express';

/**
 * The client address that per-client limits count: req.ip (which X-Forwarded-For entry
 * that is, TRUST_PROXY decides) when it is an IP address. A forwarded value that is no
 * address (Express passes on whatever the header says) cannot name a client, so such
 * requests count as the proxy's, the socket's peer, and share one allowance.
 */
export function clientAddress(req: Request): string {
  const ip = req.ip;
  if (ip !== undefined && net.isIP(ip) !== 0) return ip;
  return req.socket.remoteAddress ?? 'unknown';
}
