import { setTimeout as sleep } from 'node:timers/promises';
import { FanoutClients, replicaMemory, type ReplicaMemory } from './fanout';
import { runLoad, warmUp, type LoadResult } from './load';
import { peakRssMb, round1 } from './procfs';
import type { BenchStack } from './stacks';

/**
 * What an open live-feed stream costs a replica in memory, the measurement behind
 * MAX_LIVE_STREAMS' default: one replica (with the pod's node flags), streams opened a
 * step at a time from one client address, RSS and V8 heap used read from its /metrics
 * after each step (the lowest of a few reads, so that garbage waiting for the next
 * collection counts less), and the slope of each over the streams open. At the top, a
 * short POST run with every stream open shows the heap under load. Steps past the
 * replica's cap show what a client gets there (503s) and that the replica stays up.
 */
export interface StreamMemoryPlan {
  step: number;
  upTo: number;
  postSec: number;
}

export interface StreamMemoryPoint extends ReplicaMemory {
  asked: number;
  refused: number;
  /** The replica's process is not the one that started (it died, e.g. at its heap limit, and was replaced). */
  restarted: boolean;
}

export interface StreamMemoryResult {
  plan: StreamMemoryPlan;
  points: StreamMemoryPoint[];
  /** Least-squares slope over the points, in KB per stream. */
  perStreamKb: { heap: number; rss: number };
  /** With every stream open: POSTs at 16 connections, then the heap and peak RSS. */
  underLoad: { post: LoadResult; memory: ReplicaMemory; peakRssMb: number };
}

const POST_BODY = JSON.stringify({ author: 'bench', text: 'tp# stream memory, a chat line of ordinary length' });
const POST_HEADERS = { 'content-type': 'application/json' };

function slopeKb(points: StreamMemoryPoint[], f: (p: StreamMemoryPoint) => number): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.liveFeedClients, 0) / n;
  const my = points.reduce((a, p) => a + f(p), 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.liveFeedClients - mx) * (f(p) - my);
    den += (p.liveFeedClients - mx) ** 2;
  }
  return den ? round1((num / den) * 1024) : NaN;
}

/** The lowest of a few reads of the one replica's memory. */
async function settledMemory(url: string): Promise<ReplicaMemory> {
  let best: ReplicaMemory | undefined;
  for (let i = 0; i < 4; i++) {
    if (i) await sleep(300);
    const [m] = await replicaMemory(url, 1);
    if (!best || m.heapUsedMb < best.heapUsedMb) best = m;
  }
  return best!;
}

export async function measureStreamMemory(
  target: BenchStack,
  plan: StreamMemoryPlan,
  onProgress: (what: string) => void = () => {},
): Promise<StreamMemoryResult> {
  const { stack, url } = target;
  const port = Number(new URL(url).port);
  const clients = new FanoutClients();
  try {
    onProgress('stream memory: warming the replica up (3 s of POSTs)');
    await warmUp(
      {
        url: `${url}/api/messages`,
        method: 'POST',
        connections: 16,
        durationSec: 1,
        body: POST_BODY,
        headers: POST_HEADERS,
      },
      3,
    );
    await sleep(1000);
    const firstPid = stack.replicaPids()[0];
    const points: StreamMemoryPoint[] = [{ asked: 0, refused: 0, restarted: false, ...(await settledMemory(url)) }];
    let refused = 0;
    for (let asked = plan.step; asked <= plan.upTo; asked += plan.step) {
      onProgress(`stream memory: ${asked} streams asked for`);
      const opened = await clients.open(port, plan.step);
      refused += Object.values(opened.refused).reduce((a, b) => a + b, 0) + opened.failed;
      await sleep(1000);
      points.push({ asked, refused, restarted: stack.replicaPids()[0] !== firstPid, ...(await settledMemory(url)) });
    }
    onProgress(`stream memory: POSTs for ${plan.postSec} s with every stream open`);
    const post = await runLoad({
      url: `${url}/api/messages`,
      method: 'POST',
      connections: 16,
      durationSec: plan.postSec,
      body: POST_BODY,
      headers: POST_HEADERS,
    });
    const [memory] = await replicaMemory(url, 1);
    const peak = round1(peakRssMb(stack.replicaPids()[0]) ?? 0);
    // The slope counts the points up to where streams stopped being added (the cap, or the replica dying).
    const stop = points.findIndex(
      (p, i) => i > 0 && (p.restarted || p.liveFeedClients <= points[i - 1].liveFeedClients),
    );
    const growing = stop < 0 ? points : points.slice(0, stop);
    return {
      plan,
      points,
      perStreamKb: { heap: slopeKb(growing, (p) => p.heapUsedMb), rss: slopeKb(growing, (p) => p.rssMb) },
      underLoad: { post, memory, peakRssMb: peak },
    };
  } finally {
    clients.stop();
  }
}
