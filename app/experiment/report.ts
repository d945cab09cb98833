import type { AppendFsync } from '../../infra/persistence';
import { renderTable } from '../cli/table';
import type { StackName } from '../local/stack-config';
import type { TargetKind } from './args';
import { median, sum, type CycleResult, type Verdict } from './verdict';

/** The --json summary: totals over the cycles, recovery times as medians. */
export interface Summary {
  stack: StackName;
  target: TargetKind;
  /** "pod", or "managed" (the local emulation of Managed Valkey). */
  redis: 'pod' | 'managed';
  /** managed with rdb: the dump interval used (600 is the service's); null otherwise. */
  snapshotSeconds: number | null;
  persistence: boolean;
  appendfsync: AppendFsync | null;
  cycles: number;
  acknowledged: number;
  survived: number;
  lost: number;
  redisRecoveryMs: number;
  appRecoveryMs: number;
  /** True only when every cycle's replacement Redis loaded the AOF. */
  aofLoaded: boolean;
  /** Beyond the fields: the allowance everysec was judged against, and the verdict. */
  lastSecondAcks: number;
  ok: boolean;
  reason: string;
}

export interface RunDescription {
  stack: StackName;
  target: TargetKind;
  redis?: 'pod' | 'managed';
  snapshotSeconds?: number | null;
  persistence: boolean;
  appendfsync: AppendFsync | null;
}

export function summarize(run: RunDescription, cycles: readonly CycleResult[], v: Verdict): Summary {
  return {
    stack: run.stack,
    target: run.target,
    redis: run.redis ?? 'pod',
    snapshotSeconds: run.snapshotSeconds ?? null,
    persistence: run.persistence,
    appendfsync: run.appendfsync,
    cycles: cycles.length,
    acknowledged: sum(cycles, 'acknowledged'),
    survived: sum(cycles, 'survived'),
    lost: sum(cycles, 'lost'),
    redisRecoveryMs: median(cycles.map((c) => c.redisRecoveryMs)),
    appRecoveryMs: median(cycles.map((c) => c.appRecoveryMs)),
    aofLoaded: cycles.length > 0 && cycles.every((c) => c.aofLoaded),
    lastSecondAcks: sum(cycles, 'lastSecondAcks'),
    ok: v.ok,
    reason: v.reason,
  };
}

const COLUMNS: { head: string; cell: (c: CycleResult) => string }[] = [
  { head: 'cycle', cell: (c) => String(c.cycle) },
  { head: 'acknowledged', cell: (c) => String(c.acknowledged) },
  { head: 'present after restart', cell: (c) => String(c.survived) },
  { head: 'lost', cell: (c) => String(c.lost) },
  { head: 'acked in last 1 s', cell: (c) => String(c.lastSecondAcks) },
  { head: 'Redis recovery ms', cell: (c) => String(c.redisRecoveryMs) },
  { head: 'service recovery ms', cell: (c) => String(c.appRecoveryMs) },
  { head: 'AOF loaded', cell: (c) => (c.aofLoaded ? 'yes' : 'no') },
];

/** The readable report: header, one row per cycle, a totals row, notes, the verdict. */
export function formatReport(header: string[], cycles: readonly CycleResult[], s: Summary): string {
  const rows = cycles.map((c) => COLUMNS.map((col) => col.cell(c)));
  const total = [
    'total',
    String(s.acknowledged),
    String(s.survived),
    String(s.lost),
    String(s.lastSecondAcks),
    `median ${s.redisRecoveryMs}`,
    `median ${s.appRecoveryMs}`,
    s.aofLoaded ? 'every cycle' : cycles.some((c) => c.aofLoaded) ? 'not every cycle' : 'no',
  ];
  const notes: string[] = [];
  const trimmed = cycles.reduce((n, c) => n + c.trimmed, 0);
  if (trimmed > 0)
    notes.push(
      `${trimmed} acknowledged message(s) were pushed out by the service's history limit; not counted as lost.`,
    );
  const rejected = cycles.reduce((n, c) => n + c.rejected, 0);
  if (rejected > 0)
    notes.push(
      `${rejected} --load post(s) were not acknowledged (503 while Redis was down, or errors); they do not count.`,
    );
  if (s.redis === 'managed') {
    notes.push(
      s.snapshotSeconds === null
        ? 'Managed emulation, persistence off: a crash loses the whole history.'
        : `Managed emulation, RDB only: a crash loses what was acknowledged since the last dump (one every ${s.snapshotSeconds} s at most); ` +
            `${cycles.filter((c) => c.snapshotLoaded).length} of ${cycles.length} replacement(s) loaded a snapshot.`,
    );
  } else if (!s.persistence) {
    notes.push('Memory-only Redis: "lost" is what this stack promises; the replacement Redis starts empty.');
    const before = cycles.reduce((n, c) => n + c.acknowledgedBeforeKill, 0);
    const after = s.acknowledged - before;
    if (after > 0)
      notes.push(`${after} of the acknowledged messages were written after a kill, into the new, empty Redis.`);
  }

  return [
    ...header,
    '',
    renderTable(
      COLUMNS.map((c) => c.head),
      rows,
      { left: [0, COLUMNS.length - 1], footer: [total] },
    ),
    '',
    ...notes,
    `${s.ok ? 'PASS' : 'FAIL'}: ${s.reason}`,
  ].join('\n');
}
