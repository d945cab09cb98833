import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one service instance. Each instance has its own registry
 * (not prom-client's global one), so tests and benchmarks can run several in one process.
 */
export interface MetricsSources {
  liveClients(): number;
  redisConnected(): boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly messagesStored: Counter;
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
