import type { FanoutPlan } from './fanout';
import type { StreamMemoryPlan } from './stream-memory';

/** Command line of `npm run bench [-- --quick] [--json] ...`. */
export interface BenchArgs {
  quick: boolean;
  json: boolean;
  verbose: boolean;
  /** Run the service replicas under `node --cpu-prof` and summarise where their time went. */
  profile: boolean;
  /** Run only the live-feed fan-out benchmark. */
  fanout: boolean;
  /** Run only the memory-per-stream ramp on one replica. */
  streamMemory: boolean;
  /** Run only the append comparison: the service's script against the MULTI it replaced. */
  append: boolean;
  /** Replicas per stack; default: the stateful stack file's chat:appReplicas. */
  replicas?: number;
  help: boolean;
}

export const USAGE = `npm run bench [-- options]

  --quick         shorter runs (about 3 minutes on 2 cores); figures are noisier
  --json          print one JSON object with the headline figures as the last stdout line
  --fanout        only the live-feed fan-out benchmark (thousands of open streams; with
                  --quick, fewer streams and shorter runs)
  --stream-memory only the memory-per-stream ramp: one replica, streams opened 1 000 at a
                  time (up to 12 000; 6 000 with --quick), RSS and heap per stream
  --append        only the append comparison: the service's Lua script (with and without an
                  Idempotency-Key) against the MULTI/EXEC it replaced, on one Redis
  --replicas N    chat replicas per stack (default: Pulumi.stateful.yaml chat:appReplicas)
  --profile       run the service replicas with node --cpu-prof and print the top functions
  --verbose       relay every log line of the stacks to stderr (replica lines then pass
                  through two processes, which slows the service's figures down)
  --help          this text

Writes the full results to app/bench/results/<timestamp>.json.`;

export class ArgsError extends Error {}

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    json: false,
    verbose: false,
    profile: false,
    fanout: false,
    streamMemory: false,
    append: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--quick':
        args.quick = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--verbose':
        args.verbose = true;
        break;
      case '--profile':
        args.profile = true;
        break;
      case '--fanout':
        args.fanout = true;
        break;
      case '--stream-memory':
        args.streamMemory = true;
        break;
      case '--append':
        args.append = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--replicas': {
        const v = argv[++i];
        if (!v || !/^\d+$/.test(v) || Number(v) < 2 || Number(v) > 16) {
          throw new ArgsError(
            `--replicas must be a whole number from 2 to 16 (the live feed needs two); got ${v ?? 'nothing'}`,
          );
        }
        args.replicas = Number(v);
        break;
      }
      default:
        throw new ArgsError(`unknown option ${a}\n\n${USAGE}`);
    }
  }
  return args;
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
