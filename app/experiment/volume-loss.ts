/**
 * `npm run experiment -- --stack stateful --fault volume-loss`: what a volume does not survive.
 * Each cycle posts, takes a backup (as `npm run backup` does), posts more, then loses the
 * volume as `pulumi destroy` deletes it (Redis killed, its data directory deleted) and restores
 * the backup into a new, empty one. Everything acknowledged before the backup must be back;
 * what was written after it is gone, which is what a backup promises and no more.
 */
import { randomBytes } from 'node:crypto';
import type { ChatApi } from './api';
import type { StackName } from '../local/stack-config';
import { readHistory, writeBatch } from './runner';
import type { KillResult, Target } from './target';
import { median, type Verdict } from './verdict';

/** A target that can be backed up and lose its volume (the local target). */
export interface VolumeLossTarget extends Target {
  /** Takes a backup of the running Redis; resolves with its name. */
  backup(): Promise<string>;
  /** Kills Redis, deletes its data directory, restores `backup` into a new one, starts Redis on it. */
  loseVolumeAndRestore(backup: string): Promise<KillResult>;
}

export interface VolumeLossCycle {
  cycle: number;
  backup: string;
  ackedBeforeBackup: number;
  ackedAfterBackup: number;
  /** Acknowledged messages (before or after the backup) present after the restore. */
  survived: number;
  lostBeforeBackup: number;
  lostAfterBackup: number;
  redisRecoveryMs: number;
  appRecoveryMs: number;
  aofLoaded: boolean;
}

export interface VolumeLossOptions {
  /** Messages posted before the backup, and as many after it. */
  messages: number;
  cycles: number;
  recoveryTimeoutMs: number;
  progress?: (line: string) => void;
}

export async function runVolumeLoss(
  target: VolumeLossTarget,
  api: ChatApi,
  opts: VolumeLossOptions,
): Promise<VolumeLossCycle[]> {
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const progress = opts.progress ?? (() => {});
  const results: VolumeLossCycle[] = [];
  for (let cycle = 1; cycle <= opts.cycles; cycle++) {
    const tag = (s: string) => progress(`cycle ${cycle}/${opts.cycles}: ${s}`);
    const prefix = `vl-${runId}-c${cycle}`;
    tag(`writing ${opts.messages} messages`);
    const before = await writeBatch(api, opts.messages, `${prefix}-before`);
    tag('taking a backup');
    const backup = await target.backup();
    tag(`backup ${backup} taken; writing ${opts.messages} more`);
    const after = await writeBatch(api, opts.messages, `${prefix}-after`);
    tag('losing the volume (Redis killed, its data directory deleted) and restoring the backup');
    const lostAt = Date.now();
    const kill = await target.loseVolumeAndRestore(backup);
    await target.waitServiceReady(Math.max(1000, opts.recoveryTimeoutMs - (Date.now() - lostAt)));
    const appRecoveryMs = Date.now() - lostAt;
    const present = new Set((await readHistory(api, opts.recoveryTimeoutMs)).messages.map((m) => m.id));
    const lostBeforeBackup = before.filter((a) => !present.has(a.message.id)).length;
    const lostAfterBackup = after.filter((a) => !present.has(a.message.id)).length;
    const result: VolumeLossCycle = {
      cycle,
      backup,
      ackedBeforeBackup: before.length,
      ackedAfterBackup: after.length,
      survived: before.length + after.length - lostBeforeBackup - lostAfterBackup,
      lostBeforeBackup,
      lostAfterBackup,
      redisRecoveryMs: kill.redisRecoveryMs,
      appRecoveryMs,
      aofLoaded: kill.aofLoaded,
    };
    results.push(result);
    tag(
      `${result.ackedBeforeBackup - lostBeforeBackup}/${result.ackedBeforeBackup} from before the backup back, ` +
        `${result.ackedAfterBackup - lostAfterBackup}/${result.ackedAfterBackup} from after it`,
    );
  }
  return results;
}

const total = (cycles: readonly VolumeLossCycle[], key: keyof VolumeLossCycle) =>
  cycles.reduce((n, c) => n + Number(c[key]), 0);

/**
 * Passes when every message acknowledged before a backup is back after the volume loss and
 * the restored Redis loaded the append-only file. Messages written after the backup must be
 * gone: one still there means the volume was not really lost, and the run shows nothing.
 */
export function volumeLossVerdict(cycles: readonly VolumeLossCycle[]): Verdict {
  if (cycles.length === 0) return { ok: false, reason: 'no cycle completed' };
  for (const c of cycles) {
    if (c.ackedBeforeBackup === 0)
      return { ok: false, reason: `cycle ${c.cycle}: nothing was acknowledged before the backup` };
    if (c.lostBeforeBackup > 0) {
      return {
        ok: false,
        reason: `cycle ${c.cycle}: ${c.lostBeforeBackup} of ${c.ackedBeforeBackup} messages acknowledged before backup ${c.backup} are missing after the restore`,
      };
    }
    if (!c.aofLoaded) {
      return {
        ok: false,
        reason: `cycle ${c.cycle}: the restored Redis did not log "DB loaded from append only file"`,
      };
    }
    const kept = c.ackedAfterBackup - c.lostAfterBackup;
    if (kept > 0) {
      return {
        ok: false,
        reason: `cycle ${c.cycle}: ${kept} message(s) written after the backup are still there, so the volume was not lost`,
      };
    }
  }
  return {
    ok: true,
    reason:
      `the backup held: all ${total(cycles, 'ackedBeforeBackup')} messages acknowledged before a backup came back after the volume loss; ` +
      `the ${total(cycles, 'lostAfterBackup')} written after it are gone, as a backup promises`,
  };
}

/** The --json line of a volume-loss run: the cycles' counts totalled, their recovery times' medians. */
export interface VolumeLossSummary extends Omit<VolumeLossCycle, 'cycle' | 'backup'> {
  stack: StackName;
  target: 'local';
  fault: 'volume-loss';
  cycles: number;
  ok: boolean;
  reason: string;
}

export function summarizeVolumeLoss(
  stack: StackName,
  cycles: readonly VolumeLossCycle[],
  v: Verdict,
): VolumeLossSummary {
  return {
    stack,
    target: 'local',
    fault: 'volume-loss',
    cycles: cycles.length,
    ackedBeforeBackup: total(cycles, 'ackedBeforeBackup'),
    ackedAfterBackup: total(cycles, 'ackedAfterBackup'),
    survived: total(cycles, 'survived'),
    lostBeforeBackup: total(cycles, 'lostBeforeBackup'),
    lostAfterBackup: total(cycles, 'lostAfterBackup'),
    redisRecoveryMs: median(cycles.map((c) => c.redisRecoveryMs)),
    appRecoveryMs: median(cycles.map((c) => c.appRecoveryMs)),
    aofLoaded: cycles.length > 0 && cycles.every((c) => c.aofLoaded),
    ok: v.ok,
    reason: v.reason,
  };
}

const COLUMNS: { head: string; cell: (c: VolumeLossCycle) => string }[] = [
  { head: 'cycle', cell: (c) => String(c.cycle) },
  { head: 'acked before backup', cell: (c) => String(c.ackedBeforeBackup) },
  { head: 'acked after backup', cell: (c) => String(c.ackedAfterBackup) },
  { head: 'present after restore', cell: (c) => String(c.survived) },
  { head: 'lost from before backup', cell: (c) => String(c.lostBeforeBackup) },
  { head: 'lost from after backup', cell: (c) => String(c.lostAfterBackup) },
  { head: 'Redis recovery ms', cell: (c) => String(c.redisRecoveryMs) },
  { head: 'AOF loaded', cell: (c) => (c.aofLoaded ? 'yes' : 'no') },
];

export function formatVolumeLossReport(
  header: string[],
  cycles: readonly VolumeLossCycle[],
  s: VolumeLossSummary,
): string {
  const rows = cycles.map((c) => COLUMNS.map((col) => col.cell(c)));
  const totals = [
    'total',
    String(s.ackedBeforeBackup),
    String(s.ackedAfterBackup),
    String(s.survived),
    String(s.lostBeforeBackup),
    String(s.lostAfterBackup),
    `median ${s.redisRecoveryMs}`,
    s.aofLoaded ? 'every cycle' : 'no',
  ];
  const table = [COLUMNS.map((c) => c.head), ...rows, totals];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const words =
    `In words: ${s.ackedBeforeBackup} message(s) were acknowledged before a backup and ${s.ackedAfterBackup} after it. ` +
    `After the data directory was deleted (as pulumi destroy deletes the volume) and the backup restored, ` +
    `${s.survived} are present: ${s.lostBeforeBackup} of those from before the backup are lost (this must be 0), ` +
    `and ${s.lostAfterBackup} of those written after it (the backup could not hold them).`;
  return [
    ...header,
    '',
    line(table[0]),
    rule,
    ...rows.map(line),
    rule,
    line(totals),
    '',
    words,
    `${s.ok ? 'PASS' : 'FAIL'}: ${s.reason}`,
  ].join('\n');
}
