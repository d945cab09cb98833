/**
 * The restart line's verdict (app/public/verdict.js, the page's pure ES module) over its
 * decision table. Runs A, B, C are Redis processes; a message is `<run><position>`.
 * Nothing here has a timestamp: the verdict reads only runs and positions.
 */
import {
  fate,
  fromAnotherRun,
  reconcile,
  restartWords,
  survives,
  trim,
  type Entry,
  type Message as Msg,
  type RunFacts as Facts,
} from '../public/verdict.js';

const msg = (run: string, position: number): Msg => ({ id: `${run}${position}`, run, position });
const shown = (...ms: Msg[]): Entry[] => ms.map((message) => ({ kind: 'message', message }));
const facts = (runId: string, startPosition: number, runs: [string, number][], persistence: 'memory' | 'aof') => ({
  runId,
  startPosition,
  runs: runs.map(([r, s]) => ({ runId: r, startPosition: s })),
  persistence,
  uptimeSeconds: 3,
});
const snapshot = (redis: Facts, messages: Msg[], oldest = messages.length ? messages[0].position : 0) => ({
  messages,
  oldest,
  redis,
});
const knowing = (runId: string, ...lineage: string[]) => ({ runId, lineage: [runId, ...lineage] });

/** The list as the page shows it: a message's id, `~id` when greyed (lost), `|` for a line. */
function view(entries: Entry[]): string[] {
  return entries.map((e) => (e.kind === 'line' ? '|' : e.lost ? `~${e.message.id}` : e.message.id));
}

/** A-run history of three messages, as a page that matched run A shows it. */
const A = [msg('A', 0), msg('A', 1), msg('A', 2)];
const pageOnA = { entries: shown(...A), known: knowing('A') };

describe('the verdict on a Redis restart, read off runs and positions', () => {
  it('memory-only: a new run that started from 0: everything above is gone, greyed, and the line says so', () => {
    const r = reconcile(pageOnA, snapshot(facts('B', 0, [], 'memory'), []));
    expect(view(r.entries)).toEqual(['~A0', '~A1', '~A2', '|']);
    expect(r.restart).toMatchObject({ runId: 'B', persistence: 'memory', had: 3, missing: 3, outcome: 'gone' });
    expect(restartWords(r.restart!)).toBe(' with an empty memory: the conversation above is gone from the server');
    expect(r.known.runId).toBe('B');
    expect(r.again).toBe(false);
  });

  it('reloaded whole: the new run started from what the AOF held: every message kept', () => {
    const r = reconcile(pageOnA, snapshot(facts('B', 3, [['A', 0]], 'aof'), A));
    expect(view(r.entries)).toEqual(['A0', 'A1', 'A2', '|']);
    expect(r.restart).toMatchObject({ had: 3, missing: 0, outcome: 'kept' });
    expect(restartWords(r.restart!)).toBe(' and reloaded its append-only file: 3 messages kept');
  });

  it('reloaded with a lost tail: the run started below the lost message, which is counted and greyed', () => {
    const r = reconcile(pageOnA, snapshot(facts('B', 2, [['A', 0]], 'aof'), A.slice(0, 2)));
    expect(view(r.entries)).toEqual(['A0', 'A1', '~A2', '|']);
    expect(r.restart).toMatchObject({ had: 3, missing: 1, outcome: 'gone' });
    expect(restartWords(r.restart!)).toBe(
      ' and reloaded its append-only file, but 1 of the 3 messages above is gone from the server',
    );
  });

  it('a lost tail, then the history refilled past the limit before the page looked: the loss is still counted, never "kept"', () => {
    // HISTORY_LIMIT 5: B stored B2..B6 (positions go on from where B started), A0 and A1 came back and were trimmed.
    const news = [2, 3, 4, 5, 6].map((p) => msg('B', p));
    const r = reconcile(
      pageOnA,
      snapshot(
        facts(
          'B',
          2,
          [
            ['A', 0],
            ['B', 2],
          ],
          'aof',
        ),
        news,
        2,
      ),
    );
    expect(view(r.entries)).toEqual(['~A2', '|', 'B2', 'B3', 'B4', 'B5', 'B6']);
    expect(r.restart).toMatchObject({ had: 1, missing: 1, outcome: 'gone' });
    expect(restartWords(r.restart!)).toBe(
      ' and reloaded its append-only file, but the message above is gone from the server',
    );
    // Memory-only, the same refill: B's positions start at 0 again, and still nothing of A is taken for B's.
    const mem = reconcile(
      pageOnA,
      snapshot(
        facts('B', 0, [['B', 0]], 'memory'),
        [0, 1, 2, 3, 4].map((p) => msg('B', p)),
      ),
    );
    expect(view(mem.entries)).toEqual(['~A0', '~A1', '~A2', '|', 'B0', 'B1', 'B2', 'B3', 'B4']);
    expect(mem.restart).toMatchObject({ had: 3, missing: 3 });
  });

  it('a page opened after the restart: its first answer only teaches it the run; no line, nothing judged', () => {
    const r = reconcile(
      { entries: [], known: null },
      snapshot(
        facts(
          'B',
          2,
          [
            ['A', 0],
            ['B', 2],
          ],
          'aof',
        ),
        [msg('A', 1), msg('B', 2)],
      ),
    );
    expect(view(r.entries)).toEqual(['A1', 'B2']);
    expect(r.restart).toBeNull();
    expect(r.known).toEqual({ runId: 'B', lineage: expect.arrayContaining(['A', 'B']) });
    // Its next answer from the same run judges nothing either.
    const next = reconcile(
      { entries: r.entries, known: r.known },
      snapshot(
        facts(
          'B',
          2,
          [
            ['A', 0],
            ['B', 2],
          ],
          'aof',
        ),
        [msg('A', 1), msg('B', 2), msg('B', 3)],
      ),
    );
    expect(view(next.entries)).toEqual(['A1', 'B2', 'B3']);
    expect(next.restart).toBeNull();
  });

  it('a late replica: messages of the new run that came live while the page could not read the history stay below the line', () => {
    // The page matched A; the live feed (on the replica that reached the new Redis) brought B0..B2
    // while every history read landed on the replica that had not.
    const page = { entries: shown(...A, msg('B', 0), msg('B', 1), msg('B', 2)), known: knowing('A') };
    expect(fromAnotherRun(msg('B', 0), page.known)).toBe(true);
    const memory = reconcile(
      page,
      snapshot(
        facts('B', 0, [['B', 0]], 'memory'),
        [0, 1, 2, 3].map((p) => msg('B', p)),
      ),
    );
    expect(view(memory.entries)).toEqual(['~A0', '~A1', '~A2', '|', 'B0', 'B1', 'B2', 'B3']);
    expect(memory.restart).toMatchObject({ had: 3, missing: 3 });
    // AOF that held A0 only: B's positions start at 1; the line counts only what is above it.
    const aofPage = { entries: shown(...A, msg('B', 1), msg('B', 2)), known: knowing('A') };
    const aof = reconcile(
      aofPage,
      snapshot(
        facts(
          'B',
          1,
          [
            ['A', 0],
            ['B', 1],
          ],
          'aof',
        ),
        [msg('A', 0), msg('B', 1), msg('B', 2)],
      ),
    );
    expect(view(aof.entries)).toEqual(['A0', '~A1', '~A2', '|', 'B1', 'B2']);
    expect(aof.restart).toMatchObject({ had: 3, missing: 2, outcome: 'gone' });
  });

  it('no restart: the history is the truth: trimmed messages go, new ones come in order', () => {
    const r = reconcile(
      pageOnA,
      snapshot(facts('A', 0, [['A', 0]], 'aof'), [msg('A', 1), msg('A', 2), msg('A', 3)], 1),
    );
    expect(view(r.entries)).toEqual(['A1', 'A2', 'A3']);
    expect(r.restart).toBeNull();
    // One missing in the middle comes in at its place.
    const gap = reconcile(
      { entries: shown(msg('A', 0), msg('A', 2)), known: knowing('A') },
      snapshot(facts('A', 0, [['A', 0]], 'aof'), A),
    );
    expect(view(gap.entries)).toEqual(['A0', 'A1', 'A2']);
  });

  it('keeps a message that is only in an older page of the history (below the page, not trimmed), and counts it kept', () => {
    const r = reconcile(pageOnA, snapshot(facts('B', 3, [['A', 0]], 'aof'), [msg('A', 2)], 0));
    expect(view(r.entries)).toEqual(['A0', 'A1', 'A2', '|']);
    expect(r.restart).toMatchObject({ had: 3, missing: 0, outcome: 'kept' });
  });

  it("does not judge what arrived while the answer was on its way: its own run's stay at the end; a newer run's ask for another read", () => {
    const page = { entries: shown(...A, msg('A', 3)), known: knowing('A'), arrived: new Set(['A3']) };
    const same = reconcile(page, snapshot(facts('A', 0, [['A', 0]], 'aof'), A));
    expect(view(same.entries)).toEqual(['A0', 'A1', 'A2', 'A3']);
    expect(same.again).toBe(false);
    // The answer is from B, but C's message came meanwhile: B's facts are already stale.
    const newer = { entries: shown(...A, msg('C', 0)), known: knowing('A'), arrived: new Set(['C0']) };
    const r = reconcile(newer, snapshot(facts('B', 3, [['A', 0]], 'aof'), A));
    expect(r.again).toBe(true);
    expect(view(r.entries)).toEqual(['A0', 'A1', 'A2', '|', 'C0']);
    expect(r.known.lineage).not.toContain('C');
  });

  it('two restarts seen one after the other: two lines, each judging what was above it', () => {
    const first = reconcile(pageOnA, snapshot(facts('B', 2, [['A', 0]], 'aof'), A.slice(0, 2)));
    const withB = { entries: [...first.entries, ...shown(msg('B', 2))], known: first.known };
    const second = reconcile(withB, snapshot(facts('C', 0, [], 'memory'), []));
    expect(view(second.entries)).toEqual(['~A0', '~A1', '~A2', '|', '~B2', '|']);
    expect(second.restart).toMatchObject({ had: 3, missing: 3, persistence: 'memory' });
  });

  it('a restart the page missed: a run none of whose writes survived is before every run the facts name', () => {
    // A wrote A0..A2; B started from 1 and wrote B1, all lost; C started from 1 again.
    const page = { entries: shown(...A, msg('B', 1)), known: knowing('A') };
    const r = reconcile(page, snapshot(facts('C', 1, [['A', 0]], 'aof'), [msg('A', 0)]));
    expect(view(r.entries)).toEqual(['A0', '~A1', '~A2', '|', '~B1']);
    expect(r.restart).toMatchObject({ had: 3, missing: 2 });
  });

  it('survives(): through every run since, below where each started', () => {
    const f = facts(
      'C',
      5,
      [
        ['A', 0],
        ['B', 3],
        ['C', 5],
      ],
      'aof',
    );
    expect([0, 1, 2, 3, 4].map((p) => survives(msg('A', p), f))).toEqual([true, true, true, false, false]);
    expect([3, 4, 5].map((p) => survives(msg('B', p), f))).toEqual([true, true, false]);
    expect(survives(msg('C', 99), f)).toBe(true);
    // A run the facts do not name: before all of them. A message from before runs were recorded (run ''), too.
    expect(survives(msg('X', 0), f)).toBe(false);
    const g = facts(
      'C',
      5,
      [
        ['A', 2],
        ['B', 3],
        ['C', 5],
      ],
      'aof',
    );
    expect([1, 2].map((p) => survives(msg('X', p), g))).toEqual([true, false]);
    expect(survives({ id: 'legacy', run: '', position: 1 }, g)).toBe(true);
    expect(survives({ id: 'unknown', run: 'X', position: -1 }, f)).toBe(false);
    // The run that answered has not written yet: its start position is the fact.
    expect(
      survives(
        msg('B', 4),
        facts(
          'D',
          4,
          [
            ['A', 0],
            ['B', 3],
          ],
          'aof',
        ),
      ),
    ).toBe(false);
  });

  it('fate(): kept, trimmed or gone', () => {
    const snap = snapshot(facts('A', 0, [['A', 0]], 'aof'), [msg('A', 5), msg('A', 6)], 3);
    const on = new Set(['A5', 'A6']);
    expect(['A5', 'A2', 'A3', 'A7'].map((id) => fate(msg('A', Number(id.slice(1))), snap, on))).toEqual([
      'kept',
      'trimmed',
      'kept',
      'gone',
    ]);
  });

  it("the line's words", () => {
    const line = (persistence: string, had: number, missing: number) =>
      restartWords({ runId: 'B', persistence, had, missing, outcome: 'gone' });
    expect(line('aof', 0, 0)).toBe(' and reloaded its append-only file: 0 messages kept');
    expect(line('aof', 1, 0)).toBe(' and reloaded its append-only file: 1 message kept');
    expect(line('aof', 2, 2)).toBe(
      ' and reloaded its append-only file, but both messages above are gone from the server',
    );
    expect(line('aof', 4, 4)).toBe(
      ' and reloaded its append-only file, but all 4 messages above are gone from the server',
    );
    expect(line('aof', 4, 2)).toBe(
      ' and reloaded its append-only file, but 2 of the 4 messages above are gone from the server',
    );
    expect(line('memory', 0, 0)).toBe(' with an empty memory: anything stored before is gone from the server');
    expect(line('memory', 3, 1)).toBe(' with an empty memory: 1 of the 3 messages above is gone from the server');
  });

  it('trim(): at most the limit of stored messages and as many lost ones, oldest first', () => {
    const entries: Entry[] = [
      { kind: 'message', message: msg('A', 0), lost: true },
      { kind: 'message', message: msg('A', 1), lost: true },
      { kind: 'line', line: { runId: 'B', persistence: 'memory', had: 2, missing: 2, outcome: 'gone' } },
      ...shown(msg('B', 0), msg('B', 1), msg('B', 2)),
    ];
    expect(view(trim(entries, 2))).toEqual(['~A0', '~A1', '|', 'B1', 'B2']);
    expect(view(trim(entries, 1))).toEqual(['~A1', '|', 'B2']);
  });
});
