/**
 * `npm run experiment -- --stack stateless|stateful [...]`: the tutorial's experiment
 * (write messages, kill the Redis pod, see whether history survives) as one command
 * with a report. Exit 0 when the outcome is what the stack promises, 1 when not or
 * when the experiment could not run, 2 on bad arguments.
 */
import { reportUsageError, UsageError } from '../cli/args';
import { Progress } from '../cli/progress';
import { ChatApi } from './api';
import { parseArgs, SYNOPSIS, USAGE, type ExperimentOptions } from './args';
import { ClusterTarget } from './cluster-target';
import { kubeClientFromKubeconfig } from './kube';
import { resolveClusterSettings } from './cluster-setup';
import { LocalTarget } from './local-target';
import { formatReport, summarize } from './report';
import { runCycles } from './runner';
import type { Target, TargetInfo } from './target';
import { verdict, type CycleResult } from './verdict';
import { formatVolumeLossReport, runVolumeLoss, summarizeVolumeLoss, volumeLossVerdict } from './volume-loss';

async function makeTarget(opts: ExperimentOptions): Promise<Target> {
  if (opts.target === 'local') return new LocalTarget(opts);
  const settings = await resolveClusterSettings(opts);
  const kube = await kubeClientFromKubeconfig(settings.kubeconfig);
  return new ClusterTarget({
    url: settings.url,
    kube,
    api: new ChatApi(settings.url),
    persistence: settings.persistence,
    appendfsync: settings.appendfsync,
    namespace: opts.namespace,
    readyTimeoutMs: opts.timeoutSeconds * 1000,
    source: settings.source,
  });
}

function debugHint(err: unknown): string {
  return process.env.EXPERIMENT_DEBUG ? `\n${err instanceof Error ? err.stack : String(err)}` : '';
}

export async function main(argv: string[]): Promise<number> {
  let opts: ExperimentOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError('experiment', SYNOPSIS, err);
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const progress = new Progress('experiment');
  const fail = (what: string, err: unknown, extra: readonly string[] = []) => {
    progress.clear();
    process.stderr.write(`experiment: ${what}: ${(err as Error)?.message ?? err}${debugHint(err)}\n`);
    if (extra.length)
      process.stderr.write(`last log lines of the local stack:\n${extra.map((l) => `  ${l}`).join('\n')}\n`);
  };

  let target: Target;
  try {
    progress.update(
      opts.target === 'local'
        ? `starting the local ${opts.stack} stack`
        : opts.url && opts.kubeconfig
          ? `connecting to the ${opts.stack} stack`
          : `reading the ${opts.stack} stack's outputs`,
    );
    target = await makeTarget(opts);
  } catch (err) {
    fail('cannot set up the target', err);
    return 1;
  }

  // Ctrl-C / SIGTERM: stop what we started (redis-server, the replicas), then exit.
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress.note(`${sig}: stopping${opts.target === 'local' ? ' the local stack' : ''}…`);
    void target.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const recentLog = () => (target instanceof LocalTarget ? target.recentLog.slice(-12) : []);
  let info: TargetInfo;
  try {
    info = await target.start();
  } catch (err) {
    fail('cannot start', err, recentLog());
    await target.stop().catch(() => {});
    return 1;
  }

  if (opts.fault === 'volume-loss' && target instanceof LocalTarget) {
    return volumeLoss(opts, target, info, progress, fail, () => interrupted);
  }

  const cycles: CycleResult[] = [];
  const error = await runThenStop(target, progress, fail, async () => {
    const api = new ChatApi(info.url);
    const historyLimit = await api.historyLimit();
    progress.note(info.description);
    await runCycles(target, api, {
      messages: opts.messages,
      cycles: opts.cycles,
      load: opts.load,
      rate: opts.rate,
      recoveryTimeoutMs: opts.timeoutSeconds * 1000,
      historyLimit,
      progress: (line) => progress.update(line),
      onCycle: (c) => cycles.push(c),
      snapshotSeconds: info.managed?.snapshotSeconds ?? undefined,
    });
  });
  if (interrupted) return 130;
  if (error) fail(`cycle ${cycles.length + 1} failed`, error, recentLog());

  const v = error
    ? { ok: false, reason: `cycle ${cycles.length + 1} failed: ${(error as Error)?.message ?? error}` }
    : verdict({ persistence: info.persistence, appendfsync: info.appendfsync, cycles, managed: info.managed });
  const summary = summarize(
    {
      stack: opts.stack,
      target: opts.target,
      redis: opts.redis,
      snapshotSeconds: info.managed?.snapshotSeconds ?? null,
      persistence: info.persistence,
      appendfsync: info.appendfsync,
    },
    cycles,
    v,
  );
  const header = [
    `Experiment: stack ${opts.stack}${opts.redis === 'managed' ? ' --redis managed' : ''}, target ${opts.target}, ${opts.cycles} cycle(s) of ${opts.messages} message(s) then a Redis kill` +
      (opts.load ? `, with a writer posting ${opts.rate}/s through each kill` : ''),
    info.description,
  ];
  process.stdout.write(`${formatReport(header, cycles, summary)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (!v.ok && !error) process.stderr.write(`experiment: FAIL: ${v.reason}\n`);
  return v.ok ? 0 : 1;
}

/** Runs `run` against the target, then stops the target whatever happened; the error `run` threw, if any. */
async function runThenStop(
  target: Target,
  progress: Progress,
  fail: (what: string, err: unknown) => void,
  run: () => Promise<void>,
): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    progress.update('stopping');
    await target.stop().catch((err) => fail('stopping the target failed', err));
    progress.clear();
  }
}

/** --fault volume-loss: the backup cycle instead of the pod kill (see volume-loss.ts). */
async function volumeLoss(
  opts: ExperimentOptions,
  target: LocalTarget,
  info: TargetInfo,
  progress: Progress,
  fail: (what: string, err: unknown, extra?: readonly string[]) => void,
  interrupted: () => boolean,
): Promise<number> {
  let cycles: Awaited<ReturnType<typeof runVolumeLoss>> = [];
  const error = await runThenStop(target, progress, fail, async () => {
    progress.note(info.description);
    cycles = await runVolumeLoss(target, new ChatApi(info.url), {
      messages: opts.messages,
      cycles: opts.cycles,
      recoveryTimeoutMs: opts.timeoutSeconds * 1000,
      progress: (line) => progress.update(line),
    });
  });
  if (interrupted()) return 130;
  if (error) fail('the volume-loss run failed', error, target.recentLog.slice(-12));
  const v = error
    ? { ok: false, reason: `the volume-loss run failed: ${(error as Error)?.message ?? error}` }
    : volumeLossVerdict(cycles);
  const summary = summarizeVolumeLoss(opts.stack, cycles, v);
  const header = [
    `Experiment: stack ${opts.stack}, target local, fault volume-loss: ${opts.cycles} cycle(s) of ${opts.messages} message(s), ` +
      `a backup, ${opts.messages} more, the data directory deleted, the backup restored`,
    info.description,
  ];
  process.stdout.write(`${formatVolumeLossReport(header, cycles, summary)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (!v.ok && !error) process.stderr.write(`experiment: FAIL: ${v.reason}\n`);
  return v.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`experiment: ${(err as Error)?.message ?? err}${debugHint(err)}\n`);
      process.exit(1);
    },
  );
}
