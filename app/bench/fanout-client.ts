/**
 * The fan-out benchmark's live-feed clients: a child process (app/bench/fanout.ts forks
 * it) that holds thousands of `GET /api/events` streams, each on its own TCP connection,
 * so that the load generator's event loop (autocannon, the poster) is not the one
 * reading them.
 *
 * It has to cost far less per event than the replicas do, or it would be the bottleneck
 * it measures: raw sockets (no http parser), every read into one shared buffer
 * (net's `onread`, no allocation per read), and no SSE parsing at all: a read is
 * searched for the two markers the benchmark's messages carry in their text:
 * - `fo#<seq>#<sent>#` (steady posts): seq, and the send time in µs since the epoch,
 *   so the delivery latency is taken here, on arrival, with no bookkeeping per post;
 * - `tp#` (the throughput run's posts, a fixed body): only counted.
 * Every clock is the same machine's (performance.timeOrigin + performance.now()).
 */
import net from 'node:net';
import { Samples, ms, percentile } from './load';

export type ClientCommand =
  | { cmd: 'open'; port: number; count: number; concurrency: number; timeoutMs: number }
  /** Forget what arrived so far; steady messages numbered below fromSeq are ignored from now on (late warm-up ones). */
  | { cmd: 'reset'; fromSeq: number }
  | { cmd: 'report'; expectedSteady: number }
  | { cmd: 'close' };

export interface OpenResult {
  type: 'opened';
  open: number;
  /** Streams answered with something else than 200, by status (e.g. 503 over a cap). */
  refused: Record<string, number>;
  failed: number;
  byReplica: Record<string, number>;
  ms: number;
}

export interface ClientReport {
  type: 'report';
  streams: number;
  /** Streams the server ended or cut since the last reset (dropped as too slow, or ended). */
  endedByServer: number;
  steady: {
    deliveries: number;
    /** expectedSteady × streams still open − deliveries (negative would mean duplicates). */
    missing: number;
    duplicates: number;
    /**
     * Streams whose messages came in another order than most streams' (Redis publishes
     * them to every replica in one order, so every stream should see that order; the
     * send order can differ, since posts run concurrently on several connections).
     */
    reordered: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
  };
  throughput: {
    deliveries: number;
    /** Fewest and most `tp#` messages one stream received. */
    minPerStream: number;
    maxPerStream: number;
  };
}

const STEADY = Buffer.from('fo#');
const TPUT = Buffer.from('tp#');
const HASH = 0x23;

const now = () => performance.timeOrigin + performance.now();

class Stream {
  socket!: net.Socket;
  status = 0;
  replica = '';
  /** A hash of the order the steady messages came in. */
  order = 0;
  /** Which steady sequence numbers arrived (to find duplicates). */
  seen = new Uint8Array(0);
  steady = 0;
  tput = 0;
  /** The start of an event cut by a TCP segment boundary, kept for the next read. */
  carry?: Buffer;
  ended = false;
}

const streams: Stream[] = [];
let latencies = new Samples();
let duplicates = 0;
let fromSeq = 0;
let endedByServer = 0;
// One buffer for every socket's reads: each read is handled before the next one.
const readBuffer = Buffer.allocUnsafe(256 * 1024);

/** Notes a steady message's arrival; false when the stream had it already. */
function record(s: Stream, seq: number): boolean {
  if (seq >= s.seen.length) {
    const grown = new Uint8Array(Math.max(1024, seq * 2));
    grown.set(s.seen);
    s.seen = grown;
  }
  if (s.seen[seq]) return false;
  s.seen[seq] = 1;
  s.order = (Math.imul(s.order, 31) + seq + 1) | 0;
  return true;
}

function parseNumber(buf: Buffer, from: number, end: number): [number, number] | undefined {
  let n = 0;
  let i = from;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === HASH) return [n, i + 1];
    n = n * 10 + (c - 0x30);
  }
  return undefined;
}

/**
 * Counts the complete markers in buf; returns where the part to keep for the next read
 * begins (buf.length when nothing is cut): an incomplete marker, or the end of buf when
 * it could be the start of one.
 */
function scan(s: Stream, buf: Buffer, at: number): number {
  const end = buf.length;
  let cut = end;
  for (let i = buf.indexOf(STEADY); i >= 0;) {
    const seq = parseNumber(buf, i + 3, end);
    const sent = seq && parseNumber(buf, seq[1], end);
    if (!seq || !sent) {
      cut = i;
      break;
    }
    if (seq[0] >= fromSeq) {
      if (!record(s, seq[0] - fromSeq)) duplicates++;
      s.steady++;
      latencies.push(at - sent[0] / 1000);
    }
    i = buf.indexOf(STEADY, sent[1]);
  }
  for (let j = buf.indexOf(TPUT); j >= 0 && j < cut; j = buf.indexOf(TPUT, j + 3)) s.tput++;
  if (cut === end && end >= 1) {
    const last = buf[end - 1];
    const last2 = end >= 2 ? buf.toString('latin1', end - 2, end) : '';
    if (last2 === 'fo' || last2 === 'tp') cut = end - 2;
    else if (last === 0x66 /* f */ || last === 0x74 /* t */) cut = end - 1;
  }
  return cut;
}

function onData(s: Stream, nread: number, buf: Buffer): void {
  const at = now();
  let data = buf.subarray(0, nread);
  if (s.carry) {
    data = Buffer.concat([s.carry, data]);
    s.carry = undefined;
  }
  if (s.status === 0) {
    // The response head, then the hello event (which names the replica).
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.toString('latin1', 0, Math.min(data.length, 16)));
    if (!m) {
      s.carry = Buffer.from(data);
      return;
    }
    s.status = Number(m[1]);
    if (s.status !== 200) return;
  }
  if (!s.replica) {
    const r = /"replica":"([^"]*)"/.exec(data.toString('latin1', 0, Math.min(data.length, 4096)));
    if (r) s.replica = r[1];
  }
  const cut = scan(s, data, at);
  if (cut < data.length) s.carry = Buffer.from(data.subarray(cut));
}

function openOne(port: number, timeoutMs: number): Promise<Stream> {
  return new Promise((resolve) => {
    const s = new Stream();
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(s);
    };
    const timer = setTimeout(settle, timeoutMs);
    s.socket = net.connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: readBuffer,
        callback: (nread: number, buf: Buffer) => {
          onData(s, nread, buf);
          if (s.status !== 0 && (s.status !== 200 || s.replica)) settle();
          return true;
        },
      },
    });
    s.socket.setNoDelay(true);
    s.socket.on('connect', () =>
      s.socket.write(
        `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nUser-Agent: doks-chat-bench\r\n\r\n`,
      ),
    );
    s.socket.on('error', () => undefined);
    s.socket.on('close', () => {
      if (!s.ended && s.status === 200) endedByServer++;
      s.ended = true;
      settle();
    });
  });
}

async function open(cmd: Extract<ClientCommand, { cmd: 'open' }>): Promise<OpenResult> {
  const began = performance.now();
  const refused: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  // A few connections at a time: a burst of thousands overflows the listen backlog.
  const worker = async () => {
    while (next < cmd.count) {
      next++;
      const s = await openOne(cmd.port, cmd.timeoutMs);
      if (s.status === 200 && !s.ended) streams.push(s);
      else {
        if (s.status) refused[s.status] = (refused[s.status] ?? 0) + 1;
        else failed++;
        s.ended = true;
        s.socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, worker));
  const byReplica: Record<string, number> = {};
  for (const s of streams) byReplica[s.replica] = (byReplica[s.replica] ?? 0) + 1;
  return {
    type: 'opened',
    open: streams.length,
    refused,
    failed,
    byReplica,
    ms: Math.round(performance.now() - began),
  };
}

function report(expectedSteady: number): ClientReport {
  const live = streams.filter((s) => !s.ended);
  const sorted = latencies.sorted();
  const deliveries = streams.reduce((n, s) => n + s.steady, 0);
  const tputs = live.map((s) => s.tput);
  const orders = new Map<number, number>();
  for (const s of live) orders.set(s.order, (orders.get(s.order) ?? 0) + 1);
  const commonest = Math.max(0, ...orders.values());
  return {
    type: 'report',
    streams: live.length,
    endedByServer,
    steady: {
      deliveries,
      missing: live.reduce((n, s) => n + Math.max(0, expectedSteady - s.steady), 0),
      duplicates,
      reordered: live.length - commonest,
      p50Ms: ms(percentile(sorted, 50)),
      p99Ms: ms(percentile(sorted, 99)),
      maxMs: ms(sorted.length ? sorted[sorted.length - 1] : NaN),
    },
    throughput: {
      deliveries: streams.reduce((n, s) => n + s.tput, 0),
      minPerStream: tputs.length ? Math.min(...tputs) : 0,
      maxPerStream: tputs.length ? Math.max(...tputs) : 0,
    },
  };
}

function reset(from: number): void {
  fromSeq = from;
  latencies = new Samples();
  duplicates = 0;
  endedByServer = 0;
  for (const s of streams) {
    s.steady = 0;
    s.tput = 0;
    s.order = 0;
    s.seen.fill(0);
  }
}

function closeAll(): void {
  for (const s of streams) {
    s.ended = true;
    s.socket.destroy();
  }
  streams.length = 0;
}

process.on('message', (msg: ClientCommand) => {
  switch (msg.cmd) {
    case 'open':
      void open(msg).then((r) => process.send!(r));
      break;
    case 'reset':
      reset(msg.fromSeq);
      process.send!({ type: 'reset' });
      break;
    case 'report':
      process.send!(report(msg.expectedSteady));
      break;
    case 'close':
      closeAll();
      process.send!({ type: 'closed' });
      break;
  }
});
process.on('disconnect', () => process.exit(0));
