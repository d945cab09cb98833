import autocannon from 'autocannon';

/**
 * One autocannon run against one URL, reduced to the figures we report.
 *
 * Latency percentiles come from every 2xx response's own duration (autocannon measures
 * it with hrtime, but its histogram keeps whole milliseconds, and sub-millisecond
 * latencies at one connection would all read 0 or 1 ms). Non-2xx answers and socket
 * errors are counted and reported; they never count as throughput.
 */
export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  connections: number;
  durationSec: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadResult {
  connections: number;
  durationSec: number;
  /** 2xx responses per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Percentile by the nearest-rank method over a sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Growable Float64Array: a million samples cost 8 MB, not a million boxed numbers. */
export class Samples {
  private buf = new Float64Array(1 << 14);
  private n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  get length(): number {
    return this.n;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

export function ms(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Responses of one or more runs against one target, so that runs of two targets can
 * be interleaved in rounds (baseline, service, baseline, service…) and a burst of
 * load from elsewhere on the machine does not land on one target only.
 */
export class LoadTally {
  readonly latencies = new Samples();
  non2xx = 0;
  errors = 0;
  timeouts = 0;
  seconds = 0;

  constructor(private readonly connections: number) {}

  result(): LoadResult {
    const sorted = this.latencies.sorted();
    return {
      connections: this.connections,
      durationSec: Math.round(this.seconds * 10) / 10,
      rps: Math.round(sorted.length / Math.max(this.seconds, 1e-9)),
      p50Ms: ms(percentile(sorted, 50)),
      p99Ms: ms(percentile(sorted, 99)),
      maxMs: ms(sorted.length ? sorted[sorted.length - 1] : NaN),
      ok: sorted.length,
      non2xx: this.non2xx,
      errors: this.errors,
      timeouts: this.timeouts,
    };
  }
}

/** One autocannon run; its responses are added to `tally` (a fresh one by default). */
export async function runLoad(spec: LoadSpec, tally = new LoadTally(spec.connections)): Promise<LoadResult> {
  const began = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: spec.method,
        connections: spec.connections,
        duration: spec.durationSec,
        body: spec.body,
        headers: spec.headers,
        timeout: 10,
      },
      (err: Error | null, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) tally.latencies.push(responseTime);
      else tally.non2xx++;
    });
  });
  tally.seconds += Math.max((performance.now() - began) / 1000, spec.durationSec);
  tally.errors += result.errors;
  tally.timeouts += result.timeouts;
  return tally.result();
}

/** A short run whose figures are thrown away: JIT, connection pools and Redis warm up. */
export async function warmUp(spec: LoadSpec, seconds: number): Promise<void> {
  if (seconds > 0) await runLoad({ ...spec, durationSec: seconds });
}
