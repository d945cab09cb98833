import net from 'node:net';
import type { Request } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';

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

/**
 * The key per-client limits count under (the post rate limit, the live feed's streams per
 * client): clientAddress, an IPv6 address by its /56, as express-rate-limit 8's own key does.
 */
export function clientKey(req: Request): string {
  return ipKeyGenerator(clientAddress(req), 56);
}
