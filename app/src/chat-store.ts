import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { readRedisFacts } from './redis-status';

/**
 * Chat history in Redis, with no HTTP in sight (the benchmarks' bare server uses it
 * to do "the same Redis work" as the service).
 *
 * History is the list `chat_history`: JSON messages, oldest first, trimmed to the
 * history limit. Every stored message is also published on `chat_messages`, so every
 * replica can relay it to its live-feed clients.
 */
export const HISTORY_KEY = 'chat_history';
export const MESSAGES_CHANNEL = 'chat_messages';
/** How many messages were ever appended: the absolute position that history pages count from. */
export const APPENDED_KEY = 'chat_history_appended';
/**
 * The Redis runs that stored messages in this history, oldest first: one `<run_id>:<start
 * position>` per run, pushed by the run's first write (see APPEND_SCRIPT).
 */
export const RUNS_KEY = 'chat_history_runs';
/** Runs the runs list keeps (older ones fall off: see the page's verdict for what that means). */
export const RUNS_KEPT = 32;
/** Prefix of the keys that remember an Idempotency-Key's message (chat_idempotency:<key>). */
export const IDEMPOTENCY_PREFIX = 'chat_idempotency:';
/** How long a repeated Idempotency-Key answers with the message it first stored. */
export const IDEMPOTENCY_WINDOW_SECONDS = 600;

/**
 * What the history's facts are, in Lua shared by the scripts that read them: the Redis run
 * that answers (INFO's run_id: a new one in every redis-server process, so a restart, with
 * or without an AOF, is a new run), the list's length, and how many messages were ever
 * appended (a list from before the counter existed counts from its length).
 */
const FACTS_LUA = `
local info = redis.call('INFO', 'server', 'persistence')
local run = string.match(info, 'run_id:(%x+)') or ''
local length = redis.call('LLEN', KEYS[1])
local appended = tonumber(redis.call('GET', KEYS[2]) or '0')
if appended < length then appended = length end
local facts = {run, appended, redis.call('LRANGE', KEYS[3], 0, -1),
  tonumber(string.match(info, 'uptime_in_seconds:(%d+)') or '0'),
  string.match(info, 'aof_enabled:(%d)') or '0',
  string.match(info, 'aof_last_write_status:(%a+)') or 'ok',
  string.match(info, 'rdb_last_bgsave_status:(%a+)') or 'ok'}
`;

/**
 * Appends a message in one script, so nothing can run between its steps:
 * - with an idempotency key (KEYS[4]): if the key is known, nothing is stored and the
 *   message it stored is returned; otherwise the key remembers this message (SET EX);
 * - the message is recorded with the facts a verdict on a restart needs: `run`, the Redis
 *   run that stores it (INFO's run_id, read here, so it is the process that runs the
 *   script), and `position`, how many messages were appended before it;
 * - the first write of a run (the runs list's last entry is another run) first records
 *   the run and the position it started from: what the reloaded Redis came back with
 *   (0 after a memory-only restart, the AOF's count after a reload, less than before the
 *   kill when the AOF lost its tail). It is in the same script as the message, so the AOF
 *   holds both or neither;
 * - INCR counts every append, RPUSH + LTRIM keep the list within the limit;
 * - PUBLISH tells every replica, only once the message is stored.
 * ARGV[1] is the message's JSON without its closing brace; the script completes it.
 * Returns {1, json} when stored, {0, stored json} when the key was seen before.
 * A Redis that cannot write to its disk refuses the first write (MISCONF), before
 * anything is stored; a repeated key is still answered, since that writes nothing.
 */
const APPEND_SCRIPT = `
if #KEYS == 4 then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {0, prior} end
end
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
local length = redis.call('LLEN', KEYS[1])
local position = tonumber(redis.call('GET', KEYS[2]) or '0')
if position < length then
  position = length
  redis.call('SET', KEYS[2], length)
end
local last = redis.call('LINDEX', KEYS[3], -1)
if not last or string.sub(last, 1, #run + 1) ~= run .. ':' then
  redis.call('RPUSH', KEYS[3], run .. ':' .. position)
  redis.call('LTRIM', KEYS[3], -${RUNS_KEPT}, -1)
end
local json = ARGV[1] .. ',"run":"' .. run .. '","position":' .. position .. '}'
if #KEYS == 4 then redis.call('SET', KEYS[4], json, 'EX', tonumber(ARGV[4])) end
redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], json)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[3], json)
return {1, json}
`;

/**
 * Reads one page of history, newest last: up to ARGV[1] items that come before the
 * absolute position ARGV[2] ('' for the newest). Returns {position of the oldest item
 * kept, position of the first item returned, items, facts}; positions are absolute (see
 * APPEND_SCRIPT), so a page's cursor stays right while new messages are appended and old
 * ones trimmed. A cursor carries the run it was read from (ARGV[3]): from another run its
 * positions mean nothing here (a memory-only Redis counts from 0 again), and the answer is
 * {-1, run} instead. Read-only (no-writes): a Redis that cannot write to its disk runs it.
 */
const PAGE_SCRIPT = `#!lua flags=no-writes
${FACTS_LUA}
if ARGV[3] ~= '' and ARGV[3] ~= run then return {-1, run} end
local first = appended - length
local stop = length - 1
if ARGV[2] ~= '' then stop = math.min(stop, tonumber(ARGV[2]) - first - 1) end
if stop < 0 then return {first, first, {}, facts} end
local start = math.max(0, stop - tonumber(ARGV[1]) + 1)
return {first, first + start, redis.call('LRANGE', KEYS[1], start, stop), facts}
`;

/** The facts alone, and the list's length (for /api/status). */
const FACTS_SCRIPT = `#!lua flags=no-writes
${FACTS_LUA}
return {facts, length}
`;

export interface ChatMessage {
  id: string;
  author: string;
  text: string;
  /** When the replica stored it, ISO 8601 (shown, never used to judge anything). */
  at: string;
  /** The replica that stored it. */
  replica: string;
  /** The Redis run that stored it (its INFO run_id); '' for a message stored before runs were recorded. */
  run: string;
  /** Its append position: how many messages had been appended to this history before it (-1: unknown). */
  position: number;
}

export interface NewMessage {
  author: string;
  text: string;
}

export interface ChatStoreOptions {
  /** Messages kept; older ones are trimmed in the same transaction that adds one. */
  historyLimit: number;
  key?: string;
  channel?: string;
}

/** A run that stored messages in this history, and the append position it started from. */
export interface RunStart {
  runId: string;
  startPosition: number;
}

/**
 * What a verdict on a Redis restart is read off, exactly as Redis holds it when it answers
 * (app/README.md, "The restart line"). A restart is a new run; the messages stored before
 * it that it came back with are those whose positions are below its start position.
 */
export interface RunFacts {
  /** The Redis process that answered: its INFO run_id. */
  runId: string;
  /** The append position this run started from: it came back with the messages appended before it. */
  startPosition: number;
  /** The runs that stored messages in this history, oldest first (the last RUNS_KEPT), each with its start position. */
  runs: RunStart[];
  /** aof: an append-only file; rdb: snapshots only (a dump every `snapshotSeconds` at most); memory: neither. */
  persistence: 'memory' | 'aof' | 'rdb';
  /** With rdb: a dump at most this often when keys changed; null otherwise. */
  snapshotSeconds: number | null;
  /** The managed service (chat:redis managed), as the deployment declares it. */
  managed: boolean;
  uptimeSeconds: number;
  /** False while Redis refuses writes because it cannot write to its disk (a failed AOF write or snapshot). */
  writable: boolean;
}

/** One page of history, as served. */
export interface HistoryPage {
  /** The messages' JSON array text, oldest first. */
  json: string;
  /** The cursor for the page before this one (`?before=`), or null when this page starts at the oldest message kept. */
  before: string | null;
  /** The position of the oldest message kept: anything older was trimmed by the history limit. */
  oldest: number;
  /** The facts of the Redis run that served the page, read in the same script. */
  facts: RunFacts;
}

/** A `?before=` cursor: a position, and the run it was read from. */
export interface Cursor {
  position: number;
  runId: string;
}

/** A cursor from another Redis run: its positions do not point into this run's history. */
export class CursorFromAnotherRun extends Error {
  constructor(readonly runId: string) {
    super('cursor from another Redis run');
  }
}

export function formatCursor(c: Cursor): string {
  return `${c.position}.${c.runId}`;
}

/** The facts as the scripts return them: {run, appended, runs, uptime, aof, aof write status, snapshot status}. */
type RawFacts = [string, number, string[], number, string, string, string];

interface ScriptedRedis {
  chatAppend(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<[number, string]>;
  chatPage(
    history: string,
    appended: string,
    runs: string,
    count: number,
    before: string,
    beforeRun: string,
  ): Promise<[number, number, string[], RawFacts] | [-1, string]>;
  chatFacts(history: string, appended: string, runs: string): Promise<[RawFacts, number]>;
}

/** Stored items whose verdict page() remembers: a few pages of the largest size (100). */
const VERDICTS_KEPT = 400;

/** How a stored item is served: as stored (a message as append() writes it), rebuilt around its position, or not at all. */
type Served = { json: string } | { before: string } | null;

export class ChatStore {
  readonly historyLimit: number;
  readonly key: string;
  readonly channel: string;
  readonly appendedKey: string;
  readonly runsKey: string;
  /** Stored item → how it is served, for pages; about the last few pages' worth. */
  private readonly served = new Map<string, Served>();
  private readonly scripts: ScriptedRedis;
  /**
   * How the connected Redis persists without an AOF (its `save` setting, or the managed
   * service's declared one), read once per connection: CONFIG cannot run inside a script,
   * and a new connection may be a new Redis with another setting.
   */
  private snapshots?: Promise<SnapshotFacts>;

  constructor(
    private readonly redis: Redis,
    opts: ChatStoreOptions,
  ) {
    this.historyLimit = opts.historyLimit;
    this.key = opts.key ?? HISTORY_KEY;
    this.channel = opts.channel ?? MESSAGES_CHANNEL;
    this.appendedKey = opts.key ? `${opts.key}_appended` : APPENDED_KEY;
    this.runsKey = opts.key ? `${opts.key}_runs` : RUNS_KEY;
    // ioredis sends EVALSHA, and the script itself once after a NOSCRIPT (a restarted Redis).
    redis.defineCommand('chatAppend', { lua: APPEND_SCRIPT });
    redis.defineCommand('chatPage', { lua: PAGE_SCRIPT, numberOfKeys: 3 });
    redis.defineCommand('chatFacts', { lua: FACTS_SCRIPT, numberOfKeys: 3 });
    this.scripts = redis as unknown as ScriptedRedis;
    const forget = () => (this.snapshots = undefined);
    redis.on('ready', forget);
    redis.on('close', forget);
  }

  private snapshotFacts(): Promise<SnapshotFacts> {
    this.snapshots ??= readRedisFacts(this.redis).then(
      ({ snapshotSeconds, managed }) => ({ snapshotSeconds, managed }),
      (err: unknown) => {
        this.snapshots = undefined;
        throw err;
      },
    );
    return this.snapshots;
  }

  /** Stores a message and announces it (APPEND_SCRIPT): one round trip, and published only if stored. */
  async append(input: NewMessage, replica: string): Promise<ChatMessage> {
    const [, json] = await this.scripts.chatAppend(
      3,
      this.key,
      this.appendedKey,
      this.runsKey,
      openJson(input, replica),
      this.historyLimit,
      this.channel,
    );
    return storedMessage(json);
  }

  /**
   * append() at most once per idempotency key within IDEMPOTENCY_WINDOW_SECONDS: a repeat
   * stores nothing and returns the message the key first stored (`replayed`), checked and
   * stored in the same script as the append, so no retry can slip between the two.
   */
  async appendOnce(
    input: NewMessage,
    replica: string,
    idempotencyKey: string,
  ): Promise<{ message: ChatMessage; replayed: boolean }> {
    const [fresh, stored] = await this.scripts.chatAppend(
      4,
      this.key,
      this.appendedKey,
      this.runsKey,
      `${IDEMPOTENCY_PREFIX}${idempotencyKey}`,
      openJson(input, replica),
      this.historyLimit,
      this.channel,
      IDEMPOTENCY_WINDOW_SECONDS,
    );
    const message = parseMessage(stored);
    if (!message) throw new Error(`the idempotency key ${idempotencyKey} holds something that is not a message`);
    return { message, replayed: fresh === 0 };
  }

  /** The last `limit` messages (at most the history limit), oldest first, as page() serves them. */
  async recent(limit: number = this.historyLimit): Promise<ChatMessage[]> {
    const n = Math.max(1, Math.min(Math.floor(limit), this.historyLimit));
    const page = await this.page({ limit: n, maxBytes: Infinity });
    return JSON.parse(page.json) as ChatMessage[];
  }

  /**
   * One page of history for serving: up to `limit` messages before the cursor `before`
   * (the newest without one), oldest first, and no more than `maxBytes` of JSON (at
   * least one message, whatever its size), dropping the oldest to fit; with the facts of
   * the run that served it. A cursor from another run throws CursorFromAnotherRun.
   * A stored item that is exactly a message (as append() writes them) is passed on as
   * stored, not parsed and serialized again; anything else is skipped or rebuilt, as
   * parseMessage() does. Each stored item is checked once: the verdicts on the last items read
   * are kept (an item's text never changes), since parsing every item of every read was
   * the biggest cost of a history request.
   */
  async page({ limit, before, maxBytes }: { limit: number; before?: Cursor; maxBytes: number }): Promise<HistoryPage> {
    const reply = await this.scripts.chatPage(
      this.key,
      this.appendedKey,
      this.runsKey,
      limit,
      before === undefined ? '' : String(before.position),
      before === undefined ? '' : before.runId,
    );
    if (reply[0] === -1) throw new CursorFromAnotherRun(reply[1] as string);
    const [oldest, firstPosition, items, raw] = reply as [number, number, string[], RawFacts];
    const parts: string[] = [];
    let bytes = 2;
    let position = firstPosition + items.length;
    for (let i = items.length - 1; i >= 0; i--) {
      const json = this.servedJson(items[i], firstPosition + i);
      if (json !== null) {
        const size = Buffer.byteLength(json) + 1;
        if (parts.length > 0 && bytes + size > maxBytes) break;
        parts.push(json);
        bytes += size;
      }
      position = firstPosition + i;
    }
    this.forgetOldVerdicts(VERDICTS_KEPT);
    const facts = runFacts(raw, await this.snapshotFacts());
    return {
      json: `[${parts.reverse().join(',')}]`,
      before: position > oldest ? formatCursor({ position, runId: facts.runId }) : null,
      oldest,
      facts,
    };
  }

  /** The facts of the Redis run that answers, and how many messages it holds (one script, read-only). */
  async facts(): Promise<RunFacts & { messages: number }> {
    const [raw, length] = await this.scripts.chatFacts(this.key, this.appendedKey, this.runsKey);
    return { ...runFacts(raw, await this.snapshotFacts()), messages: length };
  }

  private servedJson(item: string, position: number): string | null {
    let served = this.served.get(item);
    if (served === undefined) {
      served = howServed(item);
      this.served.set(item, served);
    }
    if (served === null) return null;
    return 'json' in served ? served.json : `${served.before}${position}}`;
  }

  /** Oldest verdicts first out; the list itself only ever drops its oldest items. */
  private forgetOldVerdicts(keep: number): void {
    for (const old of this.served.keys()) {
      if (this.served.size <= keep) break;
      this.served.delete(old);
    }
  }

  /** How many messages Redis holds. */
  count(): Promise<number> {
    return this.redis.llen(this.key);
  }
}

/** The facts as the scripts return them, named. */
/** What readRedisFacts says of snapshots: the part of the facts no script can read. */
interface SnapshotFacts {
  snapshotSeconds: number | null;
  managed: boolean;
}

function runFacts(
  [runId, appended, runs, uptime, aof, aofWrite, snapshot]: RawFacts,
  { snapshotSeconds, managed }: SnapshotFacts,
): RunFacts {
  const starts = runs.map(parseRunStart).filter((r): r is RunStart => r !== undefined);
  const last = starts[starts.length - 1];
  return {
    runId,
    // A run that has not written yet still has what it came back with: everything appended.
    startPosition: last?.runId === runId ? last.startPosition : appended,
    runs: starts,
    persistence: aof === '1' ? 'aof' : snapshotSeconds !== null ? 'rdb' : 'memory',
    snapshotSeconds: aof === '1' ? null : snapshotSeconds,
    managed,
    uptimeSeconds: uptime,
    writable: aofWrite !== 'err' && snapshot !== 'err',
  };
}

function parseRunStart(entry: string): RunStart | undefined {
  const m = /^([0-9a-f]+):(\d+)$/.exec(entry);
  return m ? { runId: m[1], startPosition: Number(m[2]) } : undefined;
}

/** A new message's JSON without its closing brace: APPEND_SCRIPT adds the run and the position. */
function openJson(input: NewMessage, replica: string): string {
  const json = JSON.stringify({
    id: randomUUID(),
    author: input.author,
    text: input.text,
    at: new Date().toISOString(),
    replica,
  });
  return json.slice(0, -1);
}

function storedMessage(json: string): ChatMessage {
  const message = parseMessage(json);
  if (!message) throw new Error('the append script returned something that is not a message');
  return message;
}

/** A message from the list or the channel; undefined for anything that is not one (e.g. written by hand with redis-cli). */
export function parseMessage(json: string): ChatMessage | undefined {
  const m = parseJson(json);
  return isMessage(m) ? normalise(m) : undefined;
}

const MESSAGE_KEYS = 7;

/**
 * How a stored item is served: as stored when it has exactly a message's fields; else
 * rebuilt (its position, which an item written before positions were recorded lacks, is
 * where the page read it); null when it is no message.
 */
function howServed(json: string): Served {
  const m = parseJson(json);
  if (!isMessage(m)) return null;
  if (
    typeof m.replica === 'string' &&
    typeof m.run === 'string' &&
    typeof m.position === 'number' &&
    Object.keys(m).length === MESSAGE_KEYS
  )
    return { json };
  const rebuilt = JSON.stringify({ ...normalise(m), position: 0 });
  return { before: rebuilt.slice(0, rebuilt.lastIndexOf(':') + 1) };
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined; // not JSON
  }
}

type LooseMessage = Pick<ChatMessage, 'id' | 'author' | 'text' | 'at'> & {
  replica?: unknown;
  run?: unknown;
  position?: unknown;
};

function isMessage(m: unknown): m is LooseMessage {
  const x = m as Partial<ChatMessage> | null | undefined;
  return (
    !!x &&
    typeof x.id === 'string' &&
    typeof x.author === 'string' &&
    typeof x.text === 'string' &&
    typeof x.at === 'string'
  );
}

/** Only a message's fields; a missing replica or run reads as '', a missing position as -1. */
function normalise(m: LooseMessage): ChatMessage {
  return {
    id: m.id,
    author: m.author,
    text: m.text,
    at: m.at,
    replica: typeof m.replica === 'string' ? m.replica : '',
    run: typeof m.run === 'string' ? m.run : '',
    position: typeof m.position === 'number' && Number.isSafeInteger(m.position) ? m.position : -1,
  };
}
