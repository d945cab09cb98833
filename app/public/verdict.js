// What a Redis restart did to the conversation, read off facts the server records: pure,
// with no DOM, network or clock, so the page (app.js) and the unit tests
// (app/test/page-verdict.test.ts) run the same code. No verdict here looks at a message's
// time: only at which Redis run stored it and at its append position.
//
// The facts (app/README.md, "The restart line"):
// - every message carries `run`, the Redis run (INFO run_id) that stored it, and
//   `position`, how many messages had been appended to the history before it;
// - every history answer carries `redis`: the run that served it (`runId`), the position
//   that run started from (`startPosition`: it came back with the messages below it), the
//   runs that stored messages in this history with where each started (`runs`, oldest
//   first), and `oldest`, the position of the oldest message kept (below it: trimmed).

/**
 * @typedef {{ id: string, run: string, position: number }} Message
 * @typedef {{ runId: string, startPosition: number }} RunStart
 * @typedef {{ runId: string, startPosition: number, runs: RunStart[], persistence: string, uptimeSeconds?: number }} RunFacts
 * @typedef {{ messages: Message[], oldest: number, redis: RunFacts }} Snapshot one GET /api/messages answer
 * @typedef {{ kind: 'message', message: Message, lost?: boolean }} MessageEntry
 * @typedef {{ kind: 'line', line: RestartLine }} LineEntry
 * @typedef {MessageEntry | LineEntry} Entry
 * @typedef {{ runId: string, persistence: string, had: number, missing: number, outcome: 'kept' | 'gone', uptimeSeconds?: number }} RestartLine
 * @typedef {{ runId: string, lineage: string[] }} Known the run the list last matched, and the runs of what it held then
 */

/**
 * Whether a message came back with the run `facts` describe. A message of that run is
 * there (nothing is lost within a run). One stored before it came back through every run
 * since its own only if its position is below where each of them started: a memory-only
 * restart starts from 0 and keeps nothing, an AOF reload starts from what the file held,
 * and an AOF that lost its tail starts below the messages it lost. A run the list does not
 * name (no write of it survived, or it is older than the runs remembered) is before all of
 * them.
 * @param {Message} m
 * @param {RunFacts} facts
 */
export function survives(m, facts) {
  if (m.run === facts.runId) return true;
  if (!(typeof m.position === 'number' && m.position >= 0)) return false;
  const runs = facts.runs || [];
  let bound = Infinity;
  for (let j = runs.findIndex((r) => r.runId === m.run) + 1; j < runs.length; j++)
    bound = Math.min(bound, runs[j].startPosition);
  // The run that answered, when it has not written yet, is not in the list: it started from startPosition too.
  if (!runs.length || runs[runs.length - 1].runId !== facts.runId) bound = Math.min(bound, facts.startPosition);
  return m.position < bound;
}

/**
 * What became of a message the page had shown, by one history answer:
 * - 'kept': on the newest page, or in an older one (below its first position, not trimmed);
 * - 'trimmed': it came back, and has since dropped off the front of the history (the limit);
 * - 'gone': the server does not have it.
 * @param {Message} m
 * @param {Snapshot} snap
 * @param {Set<string>} onPage the ids on the answer's page
 * @returns {'kept' | 'trimmed' | 'gone'}
 */
export function fate(m, snap, onPage) {
  if (onPage.has(m.id)) return 'kept';
  if (!survives(m, snap.redis)) return 'gone';
  if (m.position < snap.oldest) return 'trimmed';
  const first = snap.messages.length ? snap.messages[0].position : snap.oldest;
  return m.position < first ? 'kept' : 'gone';
}

/**
 * Whether a message comes from a run the list has not matched: then Redis restarted since
 * (or the list has not been matched yet), and the page should read the history again.
 * @param {Message} m
 * @param {Known | null} known
 */
export function fromAnotherRun(m, known) {
  return !known || known.lineage.indexOf(m.run) < 0;
}

/**
 * Brings the list in line with one history answer, and says what a restart did.
 *
 * - First answer (`known` null): the list becomes the history; nothing is judged, so a
 *   page opened after a restart claims nothing.
 * - The same run as before: the history is the truth: what it lacks goes (trimmed, or
 *   removed on the server), what it adds comes in, in order.
 * - Another run: Redis restarted. The messages of the runs the list had matched ("above")
 *   are judged: kept, gone (they stay, marked lost), or trimmed since (they go, uncounted).
 *   A line goes after them and before every message of a later run, whenever those
 *   arrived: a message from the new run never goes above the line. History messages the
 *   list lacks go to their side of the line.
 *
 * Messages that arrived while the answer was on its way (`arrived`) and that it cannot
 * know are not judged: those of its own run (stored after the read) stay at the end, and
 * those of a run it does not know (a newer one) do too, with `again` set: the facts are
 * already stale, read again.
 *
 * @param {{ entries: Entry[], known: Known | null, arrived?: Set<string> }} page
 * @param {Snapshot} snap
 * @returns {{ entries: Entry[], known: Known, restart: RestartLine | null, again: boolean }}
 */
export function reconcile(page, snap) {
  const facts = snap.redis;
  const R = facts.runId;
  const arrived = page.arrived || new Set();
  const known = page.known;
  const onPage = new Set(snap.messages.map((m) => m.id));
  const lineageR = new Set((facts.runs || []).map((r) => r.runId));
  lineageR.add(R);
  const restarted = !!known && known.runId !== R;
  const above = known ? new Set(known.lineage) : new Set();
  let again = false;
  let had = 0;
  let missing = 0;

  /** @type {Entry[]} */
  const pre = [];
  /** @type {Entry[]} */
  const post = [];
  /** Ids of entries not judged by this answer (they stay after everything it brings). */
  const tail = new Set();
  for (const e of page.entries) {
    if (e.kind !== 'message') {
      pre.push(e);
      continue;
    }
    const m = e.message;
    const zone = restarted && !above.has(m.run) ? post : pre;
    if (arrived.has(m.id) && !onPage.has(m.id) && (m.run === R || !lineageR.has(m.run))) {
      if (m.run !== R) again = true;
      tail.add(m.id);
      zone.push(e);
      continue;
    }
    if (e.lost) {
      if (onPage.has(m.id)) zone.push({ kind: 'message', message: m });
      else zone.push(e);
      continue;
    }
    const f = fate(m, snap, onPage);
    if (restarted && zone === pre && f !== 'trimmed') {
      had += 1;
      if (f === 'gone') missing += 1;
    }
    if (f === 'kept') zone.push(e);
    else if (f === 'gone' && restarted) zone.push({ kind: 'message', message: m, lost: true });
  }

  const ofPre = snap.messages.filter((m) => !restarted || above.has(m.run));
  const ofPost = snap.messages.filter((m) => restarted && !above.has(m.run));
  let entries = insertMissing(pre, ofPre, tail);
  /** @type {RestartLine | null} */
  let restart = null;
  if (restarted) {
    restart = {
      runId: R,
      persistence: facts.persistence,
      had,
      missing,
      outcome: missing === 0 && (facts.persistence === 'aof' || facts.persistence === 'rdb') ? 'kept' : 'gone',
      uptimeSeconds: facts.uptimeSeconds,
    };
    entries = entries.concat([{ kind: 'line', line: restart }], insertMissing(post, ofPost, tail));
  }

  const lineage = new Set(lineageR);
  for (const e of entries) if (e.kind === 'message' && !e.lost && !tail.has(e.message.id)) lineage.add(e.message.run);
  return { entries, known: { runId: R, lineage: Array.from(lineage) }, restart, again };
}

/**
 * Puts the history's messages a zone lacks into it, in the history's order: each before
 * the next one the zone shows; those after all of them go before the entries that are
 * not judged (`tail`), or at the end.
 * @param {Entry[]} zone
 * @param {Message[]} history
 * @param {Set<string>} tail
 * @returns {Entry[]}
 */
function insertMissing(zone, history, tail) {
  const shown = new Set();
  for (const e of zone) if (e.kind === 'message') shown.add(e.message.id);
  /** @type {Map<string, Message[]>} */
  const before = new Map();
  let waiting = [];
  for (const m of history) {
    if (shown.has(m.id)) {
      if (waiting.length) before.set(m.id, waiting);
      waiting = [];
    } else waiting.push(m);
  }
  /** @type {Entry[]} */
  const out = [];
  const put = (ms) => {
    for (const m of ms) out.push({ kind: 'message', message: m });
  };
  for (const e of zone) {
    if (e.kind === 'message') {
      if (waiting.length && tail.has(e.message.id)) {
        put(waiting);
        waiting = [];
      }
      const first = before.get(e.message.id);
      if (first) put(first);
    }
    out.push(e);
  }
  put(waiting);
  return out;
}

/**
 * Drops the oldest entries beyond the limit: at most `limit` messages the server has, as
 * Redis keeps, and as many no longer stored.
 * @param {Entry[]} entries
 * @param {number} limit
 */
export function trim(entries, limit) {
  let stored = 0;
  let lost = 0;
  for (const e of entries) if (e.kind === 'message') e.lost ? lost++ : stored++;
  return entries.filter((e) => {
    if (e.kind !== 'message') return true;
    if (e.lost) return lost-- <= limit;
    return stored-- <= limit;
  });
}

function plural(n, one, many) {
  return n + ' ' + (n === 1 ? one : many);
}

function goneText(missing, had) {
  if (missing === had) {
    const all =
      had === 1 ? 'the message above is' : had === 2 ? 'both messages above are' : 'all ' + had + ' messages above are';
    return all + ' gone from the server';
  }
  return missing + ' of the ' + had + ' messages above ' + (missing === 1 ? 'is' : 'are') + ' gone from the server';
}

/**
 * What the line says after "Redis restarted at 15:02": "kept" only when every message the
 * page had shown above it came back.
 * @param {RestartLine} r
 */
export function restartWords(r) {
  if (r.persistence === 'rdb') {
    // Snapshots only (the managed service): what came back is the last dump, no more.
    return r.missing === 0
      ? ' and reloaded its last snapshot: ' + plural(r.had, 'message', 'messages') + ' kept'
      : ' and reloaded its last snapshot, but ' + goneText(r.missing, r.had) + ' (written after that dump)';
  }
  if (r.persistence === 'aof') {
    return r.missing === 0
      ? ' and reloaded its append-only file: ' + plural(r.had, 'message', 'messages') + ' kept'
      : ' and reloaded its append-only file, but ' + goneText(r.missing, r.had);
  }
  if (r.had === 0) return ' with an empty memory: anything stored before is gone from the server';
  if (r.missing === r.had) return ' with an empty memory: the conversation above is gone from the server';
  return ' with an empty memory: ' + goneText(r.missing, r.had);
}
