import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { clientKey } from './client-address';
import type { Redis } from 'ioredis';
import { parseMessage } from './chat-store';
import { HttpError, REDIS_UNAVAILABLE } from './errors';
import type { Logger } from './logger';
import {
  frameChunk,
  isConnectionsResponse,
  onResponseGone,
  rawChunkWriter,
  whenConnectionsResponse,
} from './node-http';

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
 * Bounded: at most `maxStreams` streams on the replica and `maxStreamsPerClient` per
 * client address; one more is refused with 503 and Retry-After (both checks are O(1)).
 * A slot is held only by a stream that is really open: a request pipelined behind
 * another response on its connection is admitted (or refused) only once it becomes the
 * connection's response, and a slot is freed when the response or its connection
 * closes, whichever Node reports (node-http.ts names what that relies on).
 *
 * Fan-out costs one write per stream per flush, whatever arrived before it: each event
 * is encoded once, queued, and the queue leaves as one Buffer, framed once and written to
 * every stream's socket as is. A write costs ~10-20 us whatever it carries (the system
 * call), so fewer writes is what makes fan-out cheaper. A flush runs once the event-loop
 * turn that queued an event is over (setImmediate), but no sooner after the previous one
 * than that one took: fan-out never takes more than half of the replica's time however
 * fast messages come, and under load many messages share each write. A message waits at
 * most one flush's time more (with 2 500 streams, ~45 ms), and only under load.
 * A stream with more than 1 MB unsent (a reader that does not read) is dropped.
 *
 * When the subscription is lost (Redis down) every stream is ended: browsers
 * reconnect, get 503 until Redis is back, and reload history once they are through,
 * so a message published while this replica was deaf is not missed silently.
 */
export interface LiveFeedOptions {
  channel: string;
  replica: string;
  logger: Logger;
  /** Streams this replica holds at most (MAX_LIVE_STREAMS). */
  maxStreams: number;
  /** Streams one client address may hold on this replica; 0 = no cap (MAX_STREAMS_PER_CLIENT). */
  maxStreamsPerClient: number;
  /** Each stream refused over a cap (for metrics). */
  onRefused?: (reason: RefusalReason) => void;
  /** Each stream dropped for not reading (for metrics). */
  onDropped?: () => void;
  /** Each flush: how long writing it to every stream took (for metrics). */
  onFlush?: (seconds: number) => void;
  /** Interval of the keep-alive comment. */
  heartbeatMs?: number;
  /** The `retry:` hint for EventSource reconnects. */
  retryMs?: number;
}

export type RefusalReason = 'replica_full' | 'client_limit';

/** A client that has this much unsent data is too slow to keep. */
export const MAX_BUFFERED_BYTES = 1 << 20;

/** Retry-After (seconds) on a refused stream: a full replica may have room soon; a client at its cap has to close one first. */
const RETRY_AFTER_FULL_SEC = 10;
const RETRY_AFTER_CLIENT_SEC = 30;

/**
 * After a flush that took d ms, the next waits until FLUSH_PAUSE·d ms have passed: fan-out
 * takes at most half of the replica's time. (4 let more POSTs through, but at 10 posts/s
 * with 2 500 streams, ~45 ms a flush, messages then waited: p99 325 ms instead of 120.)
 */
const FLUSH_PAUSE = 1;

const KEEP_ALIVE = Buffer.from(': keep-alive\n\n');

/** An event stream's response headers (also HEAD /api/events's). */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // nginx-style proxies buffer responses unless told not to.
  'X-Accel-Buffering': 'no',
};

interface Stream {
  res: ServerResponse;
  /** The client address it counts against. */
  client: string;
  /**
   * Writes a flush, framed as an HTTP/1.1 chunk once for every stream, straight to the
   * stream's socket (node-http.ts), once the headers and the hello have left. Until then,
   * and for HTTP/1.0, undefined: flushes go through res.write.
   */
  raw?: (framed: Buffer) => void;
}

export class LiveFeed {
  private readonly streams = new Set<Stream>();
  private readonly perClient = new Map<string, number>();
  private pending: Buffer[] = [];
  private flushScheduled = false;
  /** When the last flush ended, and how long it took (performance.now() ms). */
  private lastFlushEnd = 0;
  private lastFlushMs = 0;
  private subscribed = false;
  private closed = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly hello: string;

  constructor(
    private readonly subscriber: Redis,
    private readonly opts: LiveFeedOptions,
  ) {
    this.log = opts.logger.child({ component: 'live-feed' });
    this.hello = `retry: ${opts.retryMs ?? 2000}\nevent: hello\ndata: ${JSON.stringify({ replica: opts.replica })}\n\n`;
    subscriber.on('ready', this.subscribe);
    subscriber.on('close', this.onLost);
    subscriber.on('message', this.onMessage);
    if (subscriber.status === 'ready') this.subscribe();
    this.heartbeat = setInterval(() => this.enqueue(KEEP_ALIVE), opts.heartbeatMs ?? 15_000);
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

  get maxStreams(): number {
    return this.opts.maxStreams;
  }

  get maxStreamsPerClient(): number {
    return this.opts.maxStreamsPerClient;
  }

  get headers(): Readonly<Record<string, string>> {
    return STREAM_HEADERS;
  }

  /**
   * Turns the response into an event stream, or refuses it with a 503 HttpError passed to
   * `refuse`: Redis is away (not `live`), or the replica or this client is at its cap
   * (with Retry-After). A response queued behind another on its connection (pipelining)
   * waits until it is the connection's response, and holds nothing meanwhile.
   */
  attach(req: Request, res: Response, refuse: (err: HttpError) => void): void {
    if (!isConnectionsResponse(req, res)) {
      whenConnectionsResponse(req, res, () => this.attach(req, res, refuse));
      return;
    }
    const client = clientKey(req);
    try {
      this.admit(client);
    } catch (err) {
      refuse(err as HttpError);
      return;
    }
    res.writeHead(200, STREAM_HEADERS);
    req.socket.setNoDelay(true);
    const stream: Stream = { res, client };
    // The first write sends the headers and the hello together. Flushes go through
    // res.write until it has handed them to the socket, then straight to the socket.
    res.write(this.hello, () => {
      stream.raw = rawChunkWriter(req, res);
    });
    this.streams.add(stream);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    onResponseGone(req, res, () => this.remove(stream));
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

  private admit(client: string): void {
    if (!this.live) throw new HttpError(503, REDIS_UNAVAILABLE, { 'Retry-After': '1' });
    const { maxStreams, maxStreamsPerClient } = this.opts;
    if (this.streams.size >= maxStreams) {
      this.opts.onRefused?.('replica_full');
      throw new HttpError(
        503,
        `this replica is serving its maximum of ${maxStreams} live-feed streams; try again shortly`,
        {
          'Retry-After': String(RETRY_AFTER_FULL_SEC),
        },
      );
    }
    if (maxStreamsPerClient > 0 && (this.perClient.get(client) ?? 0) >= maxStreamsPerClient) {
      this.opts.onRefused?.('client_limit');
      throw new HttpError(
        503,
        `too many live-feed streams from one address: at most ${maxStreamsPerClient} per replica; close one (another tab?) and try again`,
        { 'Retry-After': String(RETRY_AFTER_CLIENT_SEC) },
      );
    }
  }

  private remove(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    const n = (this.perClient.get(stream.client) ?? 1) - 1;
    if (n > 0) this.perClient.set(stream.client, n);
    else this.perClient.delete(stream.client);
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
    this.enqueue(Buffer.from(`data: ${JSON.stringify(message)}\n\n`));
  };

  /** Queues an encoded event (or comment) for every stream; the queue leaves at the next flush. */
  private enqueue(chunk: Buffer): void {
    if (this.streams.size === 0) return;
    this.pending.push(chunk);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.lastFlushEnd + FLUSH_PAUSE * this.lastFlushMs - performance.now();
    if (wait >= 1) setTimeout(this.flush, wait).unref();
    else setImmediate(this.flush);
  }

  /** One write per stream for everything queued. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const began = performance.now();
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    const framed = frameChunk(data);
    for (const stream of this.streams) {
      const { res } = stream;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.log.warn(
          { client: stream.client, unsentBytes: res.writableLength },
          'dropping a live-feed client that does not read',
        );
        this.opts.onDropped?.();
        this.remove(stream);
        res.destroy();
        continue;
      }
      if (stream.raw) stream.raw(framed);
      else res.write(data);
    }
    this.lastFlushEnd = performance.now();
    this.lastFlushMs = this.lastFlushEnd - began;
    this.opts.onFlush?.(this.lastFlushMs / 1000);
  };

  /** Sends what is queued, then ends every stream. */
  private endAll(): void {
    this.flush();
    for (const { res } of this.streams) res.end();
    this.streams.clear();
    this.perClient.clear();
  }
}
