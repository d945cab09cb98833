import http from 'node:http';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /**
   * The body parsed as JSON, or undefined when it is not JSON. Of any shape: each caller
   * checks the one it expects (the experiment's ChatApi field by field, tests with expect).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any shape; see above
  json: any;
}

/**
 * One HTTP request on its own TCP connection (no keep-alive agent). The local
 * replicas share a port round-robin per connection, as a load balancer spreads
 * new connections, so a fresh connection is what reaches the "next" replica.
 */
export function httpRequest(
  url: string,
  opts: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const payload =
      opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { connection: 'close', ...opts.headers };
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
