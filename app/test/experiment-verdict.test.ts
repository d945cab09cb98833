import { formatReport, summarize } from '../experiment/report';
import { cameBack, count } from '../experiment/runner';
import type { HistoryRead } from '../experiment/api';
import type { Ack } from '../experiment/load';
import { median, verdict, type CycleResult } from '../experiment/verdict';

function cycle(over: Partial<CycleResult> = {}): CycleResult {
  return {
    cycle: 1,
    acknowledged: 20,
    survived: 20,
    lost: 0,
    acknowledgedBeforeKill: 20,
    survivedFromBeforeKill: 20,
    lastSecondAcks: 0,
    trimmed: 0,
    rejected: 0,
    redisRecoveryMs: 10,
    appRecoveryMs: 50,
    aofLoaded: true,
    ...over,
  };
}
const gone = (over: Partial<CycleResult> = {}) =>
  cycle({ survived: 0, lost: 20, survivedFromBeforeKill: 0, aofLoaded: false, ...over });

describe("verdict: does the outcome match the stack's promise?", () => {
  describe('--redis managed (the emulation): RDB only, or nothing', () => {
    const rdb = { persistence: 'rdb' as const, snapshotSeconds: 600 };
    it('rdb passes when what was lost was acknowledged within two dump intervals before the crash', () => {
      const v = verdict({ persistence: true, appendfsync: null, managed: rdb, cycles: [gone({ windowAcks: 20 })] });
      expect(v).toEqual({
        ok: true,
        reason: expect.stringMatching(/^managed emulation \(rdb, a dump at most every 600 s\) as configured: 20 of 20/),
      });
    });
    it('rdb fails when older acknowledged messages are lost too', () => {
      const v = verdict({ persistence: true, appendfsync: null, managed: rdb, cycles: [gone({ windowAcks: 5 })] });
      expect(v.ok).toBe(false);
      expect(v.reason).toMatch(
        /cycle 1: 20 acknowledged message\(s\) lost, more than the 5 acknowledged within two dump intervals \(2 × 600 s \+ 1 s\)/,
      );
    });
    it('off passes only when nothing written before a crash survived', () => {
      const off = { persistence: 'off' as const, snapshotSeconds: null };
      expect(verdict({ persistence: false, appendfsync: null, managed: off, cycles: [gone()] }).ok).toBe(true);
      expect(verdict({ persistence: false, appendfsync: null, managed: off, cycles: [cycle()] }).ok).toBe(false);
    });
  });

  describe('stateless (memory-only Redis): the history is gone after each kill', () => {
    it('passes when nothing written before any kill survived', () => {
      const v = verdict({ persistence: false, appendfsync: null, cycles: [gone(), gone({ cycle: 2 })] });
      expect(v.ok).toBe(true);
      expect(v.reason).toMatch(/gone after every kill/);
    });
    it('passes with --load when only messages written after the kill are there', () => {
      const c = gone({
        acknowledged: 120,
        survived: 40,
        lost: 80,
        acknowledgedBeforeKill: 80,
        survivedFromBeforeKill: 0,
      });
      expect(verdict({ persistence: false, appendfsync: null, cycles: [c] }).ok).toBe(true);
    });
    it('fails when one message from before a kill survived, naming the cycle', () => {
      const v = verdict({
        persistence: false,
        appendfsync: null,
        cycles: [gone(), gone({ cycle: 2, survivedFromBeforeKill: 1 })],
      });
      expect(v.ok).toBe(false);
      expect(v.reason).toMatch(/^cycle 2: 1 of 20 messages written before the kill were still there/);
    });
  });

  describe('stateful with appendfsync always: nothing acknowledged is lost', () => {
    it('passes with zero lost and the AOF loaded every time', () => {
      expect(verdict({ persistence: true, appendfsync: 'always', cycles: [cycle(), cycle({ cycle: 2 })] }).ok).toBe(
        true,
      );
    });
    it('fails on a single lost message even when it was within the last second', () => {
      const v = verdict({
        persistence: true,
        appendfsync: 'always',
        cycles: [cycle({ survived: 19, lost: 1, lastSecondAcks: 5 })],
      });
      expect(v.ok).toBe(false);
      expect(v.reason).toMatch(/1 acknowledged message\(s\) lost.*always/);
    });
    it('fails when a replacement Redis did not load the AOF, even with nothing lost', () => {
      const v = verdict({
        persistence: true,
        appendfsync: 'always',
        cycles: [cycle(), cycle({ cycle: 2, aofLoaded: false })],
      });
      expect(v.ok).toBe(false);
      expect(v.reason).toMatch(/cycle 2: .*did not log "DB loaded from append only file"/);
    });
  });

  describe('stateful with appendfsync everysec: at most the last second of writes', () => {
    it('passes when the loss is within the acks of the last second before the kill', () => {
      const v = verdict({
        persistence: true,
        appendfsync: 'everysec',
        cycles: [cycle({ acknowledged: 300, survived: 290, lost: 10, lastSecondAcks: 200 })],
      });
      expect(v.ok).toBe(true);
      expect(v.reason).toMatch(/10 of 300 acknowledged messages lost/);
    });
    it('fails when a cycle lost more than its last second of acks', () => {
      const v = verdict({
        persistence: true,
        appendfsync: 'everysec',
        cycles: [cycle(), cycle({ cycle: 2, acknowledged: 300, survived: 99, lost: 201, lastSecondAcks: 200 })],
      });
      expect(v.ok).toBe(false);
      expect(v.reason).toMatch(/^cycle 2: 201 acknowledged message\(s\) lost, more than the 200/);
    });
    it("treats an unknown policy as everysec (Redis's default)", () => {
      expect(
        verdict({ persistence: true, appendfsync: null, cycles: [cycle({ lost: 3, survived: 17, lastSecondAcks: 3 })] })
          .ok,
      ).toBe(true);
      expect(
        verdict({ persistence: true, appendfsync: null, cycles: [cycle({ lost: 4, survived: 16, lastSecondAcks: 3 })] })
          .ok,
      ).toBe(false);
    });
  });

  it('fails when nothing was acknowledged before a kill (the experiment shows nothing)', () => {
    const v = verdict({
      persistence: false,
      appendfsync: null,
      cycles: [gone({ acknowledgedBeforeKill: 0, acknowledged: 0, lost: 0 })],
    });
    expect(v.ok).toBe(false);
    expect(verdict({ persistence: true, appendfsync: 'always', cycles: [] }).ok).toBe(false);
  });
});

describe('count: survivors by id, trimmed or lost by the facts the service recorded', () => {
  // Messages carry the run of Redis that stored them and their append position.
  const ack = (id: string, ackedAt: number, run: string, position: number): Ack => ({
    message: { id, author: 'a', text: id, at: new Date(0).toISOString(), replica: 'chat-1', run, position },
    ackedAt,
  });
  const msg = (a: Ack) => a.message;
  const history = (messages: Ack[], oldest: number, redis: HistoryRead['redis']): HistoryRead => ({
    messages: messages.map(msg),
    oldest,
    redis,
  });

  it('splits acknowledged messages into survived and lost, before and after the kill', () => {
    // Run r1 stored a..d (positions 0..3); the AOF gave back a only (r2 started at 1); e was stored by r2.
    const acks = [ack('a', 1000, 'r1', 0), ack('b', 9500, 'r1', 1), ack('c', 9900, 'r1', 2), ack('d', 10_050, 'r1', 3)];
    acks.push(ack('e', 12_000, 'r2', 1));
    const facts = {
      runId: 'r2',
      startPosition: 1,
      runs: [
        { runId: 'r1', startPosition: 0 },
        { runId: 'r2', startPosition: 1 },
      ],
    };
    // kill at 10 000, replacement Redis ready at 10 100: a, b, c before the kill; d in flight; e after.
    const r = count(acks, history([acks[0], acks[4]], 0, facts), 10_000, 10_100);
    expect(r).toEqual({
      acknowledged: 5,
      survived: 2,
      lost: 3,
      acknowledgedBeforeKill: 3,
      survivedFromBeforeKill: 1,
      lastSecondAcks: 3, // b, c (within 1 s before the kill) and d (acked before the replacement was up)
      trimmed: 0,
    });
  });

  it('counts messages that came back and were then pushed out of a full history as trimmed, not lost', () => {
    const acks = [ack('a', 1, 'r1', 0), ack('b', 2, 'r1', 1), ack('c', 3, 'r1', 2), ack('d', 4, 'r1', 3)];
    // Reloaded whole (r2 started at 4), then the limit of 2 kept c and d (oldest position 2).
    const whole = { runId: 'r2', startPosition: 4, runs: [{ runId: 'r1', startPosition: 0 }] };
    expect(count(acks, history([acks[2], acks[3]], 2, whole), 100, 200)).toMatchObject({
      survived: 2,
      trimmed: 2,
      lost: 0,
    });
  });

  it('a lost tail stays lost even when the history refilled past the limit afterwards', () => {
    // r1 stored a..d; the AOF came back with a and b only (r2 started at 2); others' posts on r2
    // then filled the history (limit 2: positions 2 and 3 of r2), so neither c nor d is there.
    const acks = [ack('a', 1, 'r1', 0), ack('b', 2, 'r1', 1), ack('c', 3, 'r1', 2), ack('d', 4, 'r1', 3)];
    const facts = {
      runId: 'r2',
      startPosition: 2,
      runs: [
        { runId: 'r1', startPosition: 0 },
        { runId: 'r2', startPosition: 2 },
      ],
    };
    const r = count(acks, history([], 2, facts), 100, 200);
    expect(r).toMatchObject({ survived: 0, trimmed: 2, lost: 2 });
  });

  it('memory-only: the restarted Redis knows no earlier run, so everything from it is lost, not trimmed', () => {
    const acks = [ack('a', 1, 'r1', 0), ack('b', 2, 'r1', 1)];
    const empty = { runId: 'r2', startPosition: 0, runs: [] };
    expect(count(acks, history([], 5, empty), 100, 200)).toMatchObject({ survived: 0, trimmed: 0, lost: 2 });
  });

  it("cameBack reads the run after the message's own, or the answering run when it has not written yet", () => {
    const facts = {
      runId: 'r3',
      startPosition: 7,
      runs: [
        { runId: 'r1', startPosition: 0 },
        { runId: 'r2', startPosition: 4 },
      ],
    };
    expect(cameBack({ run: 'r1', position: 3 }, facts)).toBe(true);
    expect(cameBack({ run: 'r1', position: 4 }, facts)).toBe(false);
    expect(cameBack({ run: 'r2', position: 6 }, facts)).toBe(true);
    expect(cameBack({ run: 'r2', position: 7 }, facts)).toBe(false);
    expect(cameBack({ run: 'r3', position: 9 }, facts)).toBe(true);
    expect(cameBack({ run: 'r0', position: 0 }, facts)).toBe(false);
  });
});

describe('report', () => {
  it('totals over cycles, medians of recovery times, aofLoaded only if every cycle loaded it', () => {
    const cycles = [
      cycle({ redisRecoveryMs: 10, appRecoveryMs: 100 }),
      cycle({ cycle: 2, redisRecoveryMs: 30, appRecoveryMs: 300, aofLoaded: false, survived: 18, lost: 2 }),
      cycle({ cycle: 3, redisRecoveryMs: 20, appRecoveryMs: 200 }),
    ];
    const s = summarize({ stack: 'stateful', target: 'local', persistence: true, appendfsync: 'always' }, cycles, {
      ok: false,
      reason: 'x',
    });
    expect(s).toMatchObject({
      stack: 'stateful',
      target: 'local',
      persistence: true,
      appendfsync: 'always',
      cycles: 3,
      acknowledged: 60,
      survived: 58,
      lost: 2,
      redisRecoveryMs: 20,
      appRecoveryMs: 200,
      aofLoaded: false,
    });
    expect(median([4, 1, 3, 2])).toBe(3); // (2 + 3) / 2 rounded
  });

  it('prints one row per cycle under named columns, a total row and the verdict', () => {
    const cycles = [cycle(), cycle({ cycle: 2 })];
    const s = summarize({ stack: 'stateful', target: 'local', persistence: true, appendfsync: 'always' }, cycles, {
      ok: true,
      reason: 'fine',
    });
    const text = formatReport(['Experiment: test'], cycles, s);
    const lines = text.split('\n');
    expect(lines).toContain('Experiment: test');
    const head = lines.find((l) => l.startsWith('cycle'))!;
    for (const col of [
      'acknowledged',
      'present after restart',
      'lost',
      'Redis recovery ms',
      'service recovery ms',
      'AOF loaded',
    ]) {
      expect(head).toContain(col);
    }
    expect(lines.filter((l) => /^\d+\s/.test(l))).toHaveLength(2);
    expect(lines.find((l) => l.startsWith('total'))).toMatch(
      /total\s+40\s+40\s+0\s+0\s+median 10\s+median 50\s+every cycle/,
    );
    expect(lines[lines.length - 1]).toBe('PASS: fine');
  });
});
