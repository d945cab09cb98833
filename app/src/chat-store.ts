import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

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
/** Prefix of the keys that remember an Idempotency-Key's message (chat_idempotency:<key>). */
export const IDEMPOTENCY_PREFIX = 'chat_idempotency:';
/** How long a repeated Idempotency-Key answers with the message it first stored. */
export const IDEMPOTENCY_WINDOW_SECONDS = 600;

/**
 * Appends a message in one script, so nothing can run between its steps:
 * - with an idempotency key (KEYS[3]): if the key is known, nothing is stored and the
 *   message it stored is returned; otherwise the key remembers this message (SET EX);
 * - RPUSH + LTRIM keep the list within the limit; INCR counts every append, so each
 *   item has an absolute position (appended - length + index) that history pages use
 *   as their cursor (a list from before the counter existed starts it at its length);
 * - PUBLISH tells every replica, only once the message is stored.
 * Returns {1, json} when stored, {0, stored json} when the key was seen before.
 */
const APPEND_SCRIPT = `
if #KEYS == 3 then
  local prior = redis.call('GET', KEYS[3])
  if prior then return {0, prior} end
  redis.call('SET', KEYS[3], ARGV[1], 'EX', tonumber(ARGV[4]))
end
local appended = redis.call('INCR', KEYS[2])
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
if appended < length then redis.call('SET', KEYS[2], length) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[3], ARGV[1])
return {1, ARGV[1]}
`;

/**
 * Reads one page of history, newest last: up to ARGV[1] items that come before the
 * absolute position ARGV[2] ('' for the newest). Returns {position of the oldest item
 * kept, position of the first item returned, items}; positions are absolute (see APPEND_SCRIPT), so a page's cursor
 * stays right while new messages are appended and old ones trimmed.
 */
const PAGE_SCRIPT = `
local length = redis.call('LLEN', KEYS[1])
local appended = tonumber(redis.call('GET', KEYS[2]) or '0')
if appended < length then appended = length end
local first = appended - length
local stop = length - 1
if ARGV[2] ~= '' then stop = math.min(stop, tonumber(ARGV[2]) - first - 1) end
if stop < 0 then return {first, first, {}} end
local start = math.max(0, stop - tonumber(ARGV[1]) + 1)
return {first, first + start, redis.call('LRANGE', KEYS[1], start, stop)}
`;

export interface ChatMessage {
  id: string;
  author: string;
  text: string;
  /** When the replica stored it, ISO 8601. */
  at: string;
  /** The replica that stored it. */
  replica: string;
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

/** One page of history, as served. */
export interface HistoryPage {
  /** The messages' JSON array text, oldest first. */
  json: string;
  /** The cursor for the page before this one (`?before=`), or null when this page starts at the oldest message kept. */
  before: number | null;
}

interface ScriptedRedis {
  chatAppend(numKeys: number, ...keysAndArgs: Array<string | number>): Promise<[number, string]>;
  chatPage(history: string, appended: string, count: number, before: string): Promise<[number, number, string[]]>;
}

/** Stored items whose verdict page() remembers: a few pages of the largest size (100). */
const VERDICTS_KEPT = 400;

export class ChatStore {
  readonly historyLimit: number;
  readonly key: string;
  readonly channel: string;
  readonly appendedKey: string;
  /** Stored item → its JSON as served (null: not a message), for pages; about the last few pages' worth. */
  private readonly served = new Map<string, string | null>();
  private readonly scripts: ScriptedRedis;

  constructor(
    private readonly redis: Redis,
    opts: ChatStoreOptions,
  ) {
    this.historyLimit = opts.historyLimit;
    this.key = opts.key ?? HISTORY_KEY;
    this.channel = opts.channel ?? MESSAGES_CHANNEL;
    this.appendedKey = opts.key ? `${opts.key}_appended` : APPENDED_KEY;
    // ioredis sends EVALSHA, and the script itself once after a NOSCRIPT (a restarted Redis).
    redis.defineCommand('chatAppend', { lua: APPEND_SCRIPT });
    redis.defineCommand('chatPage', { lua: PAGE_SCRIPT, numberOfKeys: 2 });
    this.scripts = redis as unknown as ScriptedRedis;
  }

  /** Stores a message and announces it (APPEND_SCRIPT): one round trip, and published only if stored. */
  async append(input: NewMessage, replica: string): Promise<ChatMessage> {
    const message = newMessage(input, replica);
    await this.scripts.chatAppend(
      2,
      this.key,
      this.appendedKey,
      JSON.stringify(message),
      this.historyLimit,
      this.channel,
    );
    return message;
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
    const json = JSON.stringify(newMessage(input, replica));
    const [fresh, stored] = await this.scripts.chatAppend(
      3,
      this.key,
      this.appendedKey,
      `${IDEMPOTENCY_PREFIX}${idempotencyKey}`,
      json,
      this.historyLimit,
      this.channel,
      IDEMPOTENCY_WINDOW_SECONDS,
    );
    const message = parseMessage(stored);
    if (!message) throw new Error(`the idempotency key ${idempotencyKey} holds something that is not a message`);
    return { message, replayed: fresh === 0 };
  }

  /** The last `limit` messages (at most the history limit), oldest first. */
  async recent(limit: number = this.historyLimit): Promise<ChatMessage[]> {
    const items = await this.lastItems(limit);
    return items.map(parseMessage).filter((m): m is ChatMessage => m !== undefined);
  }

  /**
   * One page of history for serving: up to `limit` messages before the cursor `before`
   * (the newest without one), oldest first, and no more than `maxBytes` of JSON (at
   * least one message, whatever its size), dropping the oldest to fit.
   * A stored item that is exactly a message (as append() writes them) is passed on as
   * stored, not parsed and serialized again; anything else is skipped or rebuilt, as
   * recent() does. Each stored item is checked once: the verdicts on the last items read
   * are kept (an item's text never changes), since parsing every item of every read was
   * the biggest cost of a history request.
   */
  async page({ limit, before, maxBytes }: { limit: number; before?: number; maxBytes: number }): Promise<HistoryPage> {
    const [oldest, firstPosition, items] = await this.scripts.chatPage(
      this.key,
      this.appendedKey,
      limit,
      before === undefined ? '' : String(before),
    );
    const parts: string[] = [];
    let bytes = 2;
    let position = firstPosition + items.length;
    for (let i = items.length - 1; i >= 0; i--) {
      const json = this.servedJson(items[i]);
      if (json !== null) {
        const size = Buffer.byteLength(json) + 1;
        if (parts.length > 0 && bytes + size > maxBytes) break;
        parts.push(json);
        bytes += size;
      }
      position = firstPosition + i;
    }
    this.forgetOldVerdicts(VERDICTS_KEPT);
    return { json: `[${parts.reverse().join(',')}]`, before: position > oldest ? position : null };
  }

  private servedJson(item: string): string | null {
    let json = this.served.get(item);
    if (json === undefined) {
      json = servedJson(item) ?? null;
      this.served.set(item, json);
    }
    return json;
  }

  /** Oldest verdicts first out; the list itself only ever drops its oldest items. */
  private forgetOldVerdicts(keep: number): void {
    for (const old of this.served.keys()) {
      if (this.served.size <= keep) break;
      this.served.delete(old);
    }
  }

  /** The last `limit` stored items (at most the history limit), oldest first, as stored. */
  private lastItems(limit: number): Promise<string[]> {
    const n = Math.max(1, Math.min(Math.floor(limit), this.historyLimit));
    return this.redis.lrange(this.key, -n, -1);
  }

  /** How many messages Redis holds. */
  count(): Promise<number> {
    return this.redis.llen(this.key);
  }
}

function newMessage(input: NewMessage, replica: string): ChatMessage {
  return { id: randomUUID(), author: input.author, text: input.text, at: new Date().toISOString(), replica };
}

/** A message from the list or the channel; undefined for anything that is not one (e.g. written by hand with redis-cli). */
export function parseMessage(json: string): ChatMessage | undefined {
  const m = parseJson(json);
  return isMessage(m) ? normalise(m) : undefined;
}

/** A stored item as a message's JSON text: as stored when it has exactly a message's fields, else rebuilt; undefined when it is no message. */
function servedJson(json: string): string | undefined {
  const m = parseJson(json);
  if (!isMessage(m)) return undefined;
  return typeof m.replica === 'string' && Object.keys(m).length === 5 ? json : JSON.stringify(normalise(m));
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined; // not JSON
  }
}

function isMessage(m: unknown): m is Omit<ChatMessage, 'replica'> & { replica?: unknown } {
  const x = m as Partial<ChatMessage> | null | undefined;
  return (
    !!x &&
    typeof x.id === 'string' &&
    typeof x.author === 'string' &&
    typeof x.text === 'string' &&
    typeof x.at === 'string'
  );
}

/** Only a message's fields; a missing replica reads as ''. */
function normalise(m: Omit<ChatMessage, 'replica'> & { replica?: unknown }): ChatMessage {
  return {
    id: m.id,
    author: m.author,
    text: m.text,
    at: m.at,
    replica: typeof m.replica === 'string' ? m.replica : '',
  };
}
