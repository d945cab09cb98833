import fs from 'node:fs';

/**
 * What the kernel says about our processes (Linux /proc): CPU time, to show where the
 * cores went during a load run, and VmHWM, a process's peak resident set.
 * On a system without /proc every reader returns undefined and the report says so.
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux we run). */
const TICKS_PER_SEC = 100;

/** utime + stime of one process, in seconds; undefined when it is gone or there is no /proc. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name "(...)": state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0); // idle + iowait
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Peak resident set size (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A named group of processes whose CPU use is measured together (e.g. "replicas"). */
export type PidGroups = Record<string, () => Array<number | undefined>>;

/**
 * CPU use per group over an interval, in percent of one core (200 = both cores of a
 * 2-core machine), plus the machine's total and what other processes used ("other":
 * everything not in a group — e.g. another engineer's test suite).
 */
export interface CpuUse {
  byGroup: Record<string, number>;
  machinePct?: number;
  otherPct?: number;
  cores: number;
}

/** Accumulates CPU use over one or more start()/stop() intervals (rounds of a run). */
export class CpuMeter {
  private startAt = 0;
  private startGroups: Record<string, number> = {};
  private startMachine?: { busy: number; total: number };
  private wall = 0;
  private used: Record<string, number> = {};
  private machineBusy = 0;
  private machineTotal = 0;

  constructor(
    private readonly groups: PidGroups,
    private readonly cores: number,
  ) {}

  private sample(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      out[name] = pids().reduce<number>((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
    }
    return out;
  }

  start(): void {
    this.startAt = performance.now();
    this.startGroups = this.sample();
    this.startMachine = machineJiffies();
  }

  /** Ends the interval; returns the use over all intervals so far. */
  stop(): CpuUse {
    this.wall += (performance.now() - this.startAt) / 1000;
    const now = this.sample();
    for (const name of Object.keys(now)) {
      this.used[name] = (this.used[name] ?? 0) + Math.max(0, now[name] - (this.startGroups[name] ?? 0));
    }
    const machine = machineJiffies();
    if (machine && this.startMachine) {
      this.machineBusy += machine.busy - this.startMachine.busy;
      this.machineTotal += machine.total - this.startMachine.total;
    }
    return this.use();
  }

  use(): CpuUse {
    const byGroup: Record<string, number> = {};
    let ours = 0;
    for (const [name, sec] of Object.entries(this.used)) {
      const pct = (100 * sec) / Math.max(this.wall, 1e-9);
      byGroup[name] = round1(pct);
      ours += pct;
    }
    let machinePct: number | undefined;
    let otherPct: number | undefined;
    if (this.machineTotal > 0) {
      const pct = (100 * this.cores * this.machineBusy) / this.machineTotal;
      machinePct = round1(pct);
      otherPct = round1(Math.max(0, pct - ours));
    }
    return { byGroup, machinePct, otherPct, cores: this.cores };
  }
}

export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
