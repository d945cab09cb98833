import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one service instance. Each instance has its own registry
 * (not prom-client's global one), so tests and benchmarks can run several in one process.
 */
export interface MetricsSources {
  liveClients(): number;
  redisConnected(): boolean;
  /** The live feed's caps (MAX_LIVE_STREAMS, MAX_STREAMS_PER_CLIENT; 0 = no per-client cap). */
  liveFeedLimits: { maxStreams: number; maxStreamsPerClient: number };
}

export class Metrics {
  readonly registry = new Registry();
  readonly messagesStored: Counter;
  /** Live-feed streams refused with 503 over a cap, by which cap. */
  readonly liveFeedRefused: Counter<'reason'>;
  /** Live-feed streams dropped because their reader did not keep up. */
  readonly liveFeedDropped: Counter;
  /** How long one live-feed flush (one write to every stream) took. */
  readonly liveFeedFlush: Histogram;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;

  constructor(sources: MetricsSources, labels: Record<string, string> = {}) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status (live-feed streams: how long they stayed open)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600],
      registers,
    });
    this.messagesStored = new Counter({
      name: 'chat_messages_stored_total',
      help: 'Chat messages stored in Redis by this replica',
      registers,
    });
    new Gauge({
      name: 'chat_live_feed_clients',
      help: 'Open live-feed (SSE) streams on this replica',
      registers,
      collect() {
        this.set(sources.liveClients());
      },
    });
    new Gauge({
      name: 'chat_live_feed_max_streams',
      help: 'Most live-feed streams this replica holds (MAX_LIVE_STREAMS)',
      registers,
    }).set(sources.liveFeedLimits.maxStreams);
    new Gauge({
      name: 'chat_live_feed_max_streams_per_client',
      help: 'Most live-feed streams one client address holds on this replica (MAX_STREAMS_PER_CLIENT; 0 = no cap)',
      registers,
    }).set(sources.liveFeedLimits.maxStreamsPerClient);
    this.liveFeedRefused = new Counter({
      name: 'chat_live_feed_refused_total',
      help: 'Live-feed streams refused with 503 because the replica (replica_full) or the client address (client_limit) was at its cap',
      labelNames: ['reason'],
      registers,
    });
    // Both series from the start, so rate() sees the first refusal.
    for (const reason of ['replica_full', 'client_limit']) this.liveFeedRefused.inc({ reason }, 0);
    this.liveFeedDropped = new Counter({
      name: 'chat_live_feed_dropped_total',
      help: 'Live-feed streams dropped because more than 1 MB waited unsent (a reader that does not read)',
      registers,
    });
    this.liveFeedFlush = new Histogram({
      name: 'chat_live_feed_flush_seconds',
      help: 'Time to write one live-feed flush (the events queued since the last) to every open stream',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    new Gauge({
      name: 'chat_redis_connected',
      help: '1 while the Redis command connection is ready, else 0',
      registers,
      collect() {
        this.set(sources.redisConnected() ? 1 : 0);
      },
    });
  }

  /** Counts and times one response; `route` is the route pattern, not the raw URL, to bound cardinality. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
