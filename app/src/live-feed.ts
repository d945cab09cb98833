import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { parseMessage } from './chat-store';
import type { Logger } from './logger';

/**
 * The live feed: one Redis subscriber connection per replica, relayed to this
 * replica's browsers over Server-Sent Events.
 *
 * Stream format (`GET /api/events`):
 * - first `retry: 2000` and one `event: hello` whose data is `{"replica": ...}`, so a
 *   page behind a load balancer knows which replica serves its feed;
 * - then one unnamed event per stored message, data = the message JSON;
 * - a `: keep-alive` comment every heartbeat, so proxies and load balancers (which
 *   drop idle connections after ~60 s) keep the stream open.
 *
 * When the subscription is lost (Redis down) every stream is ended: browsers
 * reconnect, get 503 until Redis is back, and reload history once they are through,
 * so a message published while this replica was deaf is not missed silently.
 */
export interface LiveFeedOptions {
  channel: string;
  replica: string;
  logger: Logger;
  /** Interval of the keep-alive comment. */
  heartbeatMs?: number;
  /** The `retry:` hint for EventSource reconnects. */
  retryMs?: number;
}

/** A client that has this much unsent data is too slow to keep. */
const MAX_BUFFERED_BYTES = 1 << 20;

export class LiveFeed {
  private readonly streams = new Set<ServerResponse>();
  private subscribed = false;
  private closed = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(
    private readonly subscriber: Redis,
    private readonly opts: LiveFeedOptions,
  ) {
    this.log = opts.logger.child({ component: 'live-feed' });
    subscriber.on('ready', this.subscribe);
    subscriber.on('close', this.onLost);
    subscriber.on('message', this.onMessage);
    if (subscriber.status === 'ready') this.subscribe();
    this.heartbeat = setInterval(() => this.writeAll(': keep-alive\n\n'), opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Whether messages published on the channel reach this replica right now. */
  get live(): boolean {
    return this.subscribed && !this.closed;
  }

  /** Open live-feed streams. */
  get clients(): number {
    return this.streams.size;
  }

  /** Turns the response into an event stream. The caller checks `live` first. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx-style proxies buffer responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    req.socket.setNoDelay(true);
    // The first write sends the headers and the hello together.
    res.write(`retry: ${this.opts.retryMs ?? 2000}\nevent: hello\ndata: ${JSON.stringify({ replica: this.opts.replica })}\n\n`);
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }

  /** Ends every stream and stops relaying (graceful shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.subscriber.off('ready', this.subscribe);
    this.subscriber.off('close', this.onLost);
    this.subscriber.off('message', this.onMessage);
    this.endAll();
  }

  private readonly subscribe = (): void => {
    if (this.closed) return;
    this.subscriber.subscribe(this.opts.channel).then(
      () => {
        this.subscribed = true;
        this.log.info({ channel: this.opts.channel }, 'live feed subscribed');
      },
      (err: Error) => this.log.warn({ err: err.message }, 'live feed could not subscribe; retrying on reconnect'),
    );
  };

  private readonly onLost = (): void => {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.log.warn({ clients: this.streams.size }, 'live feed lost its subscription; ending streams so browsers resync');
    this.endAll();
  };

  private readonly onMessage = (channel: string, json: string): void => {
    // Every replica hears every message; most have no browser to pass it to.
    if (channel !== this.opts.channel || this.streams.size === 0) return;
    const message = parseMessage(json);
    if (!message) {
      this.log.warn({ channel }, 'ignored a published value that is not a chat message');
      return;
    }
    this.writeAll(`data: ${JSON.stringify(message)}\n\n`);
  };

  private writeAll(chunk: string): void {
    for (const res of this.streams) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.log.warn('dropping a live-feed client that does not read');
        this.streams.delete(res);
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }

  private endAll(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }
}
