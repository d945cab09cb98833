import http from 'node:http';
import { waitFor } from '../../cli/wait';

export interface SseEvent {
  event: string;
  data: string;
}

/** A minimal EventSource for tests: records every event, comments counted apart. */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body = '';
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  private req!: http.ClientRequest;

  private constructor(
    private readonly url: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    let resolveEnded!: () => void;
    this.ended = new Promise((r) => (resolveEnded = r));
    this.onEnd = resolveEnded;
  }

  private onEnd: () => void;

  /** Opens the stream and resolves once the response headers arrived. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient(url, headers);
    return client.connect().then(() => client);
  }

  /** Data of the unnamed events (the chat messages), parsed. */
  messages<T = Record<string, unknown>>(): T[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as T);
  }

  waitForEvent(match: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    const what = () => `a matching event on ${this.url} (got ${JSON.stringify(this.events)})`;
    return waitFor(what, () => this.events.find(match), timeoutMs, 20);
  }

  close(): void {
    this.req.destroy();
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = http.get(
        this.url,
        { headers: { accept: 'text/event-stream', ...this.extraHeaders }, agent: false },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            this.body += chunk;
            buf += chunk;
            let sep;
            while ((sep = buf.indexOf('\n\n')) >= 0) {
              this.parse(buf.slice(0, sep));
              buf = buf.slice(sep + 2);
            }
          });
          res.on('end', () => this.onEnd());
          res.on('close', () => this.onEnd());
          resolve();
        },
      );
      this.req.on('error', (err) => {
        this.onEnd();
        reject(err);
      });
    });
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const i = line.indexOf(':');
      const name = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (name === 'event') event = value;
      if (name === 'data') data.push(value);
      fields++;
    }
    if (fields && data.length) this.events.push({ event, data: data.join('\n') });
  }
}
