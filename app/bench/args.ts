import { parseCommandLine, UsageError, wholeNumber } from '../cli/args';
import type { FanoutPlan } from './fanout';
import type { StreamMemoryPlan } from './stream-memory';

/** Command line of `npm run bench [-- --quick] [--json] ...`. */
export interface BenchArgs {
  quick: boolean;
  json: boolean;
  verbose: boolean;
  /** Run only the live-feed fan-out benchmark. */
  fanout: boolean;
  /** Run only the memory-per-stream ramp on one replica. */
  streamMemory: boolean;
  /** Replicas per stack; default: the stateful stack file's chat:appReplicas. */
  replicas?: number;
  help: boolean;
}

/** How to call it, in one line (with a usage error). */
export const SYNOPSIS = 'npm run bench [-- --quick] [--json] [--fanout | --stream-memory] [--replicas N] [--verbose]';

export const USAGE = `npm run bench [-- options]

  --quick         shorter runs (about 3 minutes on 2 cores); figures are noisier
  --json          print one JSON object with the headline figures as the last stdout line
  --fanout        only the live-feed fan-out benchmark (thousands of open streams; with
                  --quick, fewer streams and shorter runs)
  --stream-memory only the memory-per-stream ramp: one replica, streams opened 1 000 at a
                  time (up to 12 000; 6 000 with --quick), RSS and heap per stream
  --replicas N    chat replicas per stack (default: Pulumi.stateful.yaml chat:appReplicas)
  --verbose       relay every log line of the stacks to stderr (replica lines then pass
                  through two processes, which slows the service's figures down)
  -h, --help      this text

Writes the full results to app/bench/results/<timestamp>.json.`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const given = parseCommandLine(argv, {
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean' },
    fanout: { type: 'boolean' },
    'stream-memory': { type: 'boolean' },
    replicas: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (given.fanout && given['stream-memory'])
    throw new UsageError('--fanout and --stream-memory run alone: choose one');
  return {
    quick: given.quick === true,
    json: given.json === true,
    verbose: given.verbose === true,
    fanout: given.fanout === true,
    streamMemory: given['stream-memory'] === true,
    replicas:
      given.replicas === undefined
        ? undefined
        : wholeNumber('replicas', given.replicas, 2, 16, 'the live feed needs two'),
    help: given.help === true,
  };
}

/** Durations and counts of one run. */
export interface Plan {
  mode: 'quick' | 'full';
  postConnections: number[];
  /** POST: each target runs postRounds rounds of postRoundSec, interleaved with the others. */
  postRounds: number;
  postRoundSec: number;
  /** Before each run, thrown away. */
  warmupSec: number;
  /**
   * Once per stack before its first measured run: a freshly started replica needs
   * several seconds under load before V8 has optimised the hot paths (a cold
   * replica runs at under half its steady rate for the first 2 s).
   */
  jitWarmupSec: number;
  historySteps: number[];
  historyConnections: number;
  /** GET history: rounds of historySec per step; the p99 reported is the median of the rounds'. */
  historyRounds: number;
  historySec: number;
  feedMessages: number;
  feedWarmup: number;
  recoveryHeld: number[];
  fanout: FanoutPlan;
  streamMemory: StreamMemoryPlan;
}

export function planFor(quick: boolean): Plan {
  return {
    mode: quick ? 'quick' : 'full',
    postConnections: [1, 16, 64],
    postRounds: quick ? 2 : 3,
    postRoundSec: quick ? 2 : 5,
    warmupSec: quick ? 1 : 2,
    jitWarmupSec: quick ? 5 : 8,
    historySteps: [10, 1_000, 100_000],
    // One request at a time per replica: the latency of the page's request itself. With
    // 16 connections the replicas are saturated and p99 is time queued behind other
    // requests, which grows with what each answer costs (100 messages cost about 1.8
    // times 10 end to end), not with how many messages were ever written.
    historyConnections: 2,
    historyRounds: quick ? 3 : 5,
    historySec: quick ? 2 : 3,
    feedMessages: quick ? 300 : 1_000,
    feedWarmup: quick ? 20 : 50,
    recoveryHeld: [1_000, 100_000],
    fanout: {
      streams: quick ? [500, 2_000] : [1_000, 5_000],
      // A busy chat room's pace: each message goes to every stream.
      ratePerSec: 10,
      steadySec: quick ? 5 : 10,
      postConnections: 16,
      postSec: quick ? 3 : 5,
      warmupSec: quick ? 3 : 5,
    },
    streamMemory: { step: 1_000, upTo: quick ? 6_000 : 12_000, postSec: 3 },
  };
}
