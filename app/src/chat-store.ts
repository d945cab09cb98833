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

export class ChatStore {
  readonly historyLimit: number;
  readonly key: string;
  readonly channel: string;
  /** Stored item → its JSON as served (null: not a message), for recentJson(). */
  private readonly served = new Map<string, string | null>();

  constructor(
    private readonly redis: Redis,
    opts: ChatStoreOptions,
  ) {
    this.historyLimit = opts.historyLimit;
    this.key = opts.key ?? HISTORY_KEY;
    this.channel = opts.channel ?? MESSAGES_CHANNEL;
  }

  /**
   * Stores a message and announces it: MULTI RPUSH + LTRIM + PUBLISH EXEC, sent in
   * one round trip. The list can never outgrow the limit, and a message is published
   * only if it was stored.
   */
  async append(input: NewMessage, replica: string): Promise<ChatMessage> {
    const message: ChatMessage = {
      id: randomUUID(),
      author: input.author,
      text: input.text,
      at: new Date().toISOString(),
      replica,
    };
    const json = JSON.stringify(message);
    const results = await this.redis
      .multi()
      .rpush(this.key, json)
      .ltrim(this.key, -this.historyLimit, -1)
      .publish(this.channel, json)
      .exec();
    if (!results) throw new Error('Redis discarded the MULTI transaction');
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return message;
  }

  /** The last `limit` messages (at most the history limit), oldest first. */
  async recent(limit: number = this.historyLimit): Promise<ChatMessage[]> {
    const items = await this.lastItems(limit);
    return items.map(parseMessage).filter((m): m is ChatMessage => m !== undefined);
  }

  /**
   * recent() as the JSON text of the array, for serving. A stored item that is exactly
   * a message (as append() writes them) is passed on as stored, not parsed into an
   * object and serialized again; anything else is skipped or rebuilt, as recent() does.
   * Each stored item is checked once: the verdicts on the last items read are kept
   * (an item's text never changes), since parsing every item of every read was the
   * biggest cost of a history request.
   */
  async recentJson(limit: number = this.historyLimit): Promise<string> {
    const items = await this.lastItems(limit);
    const parts: string[] = [];
    for (const item of items) {
      let json = this.served.get(item);
      if (json === undefined) {
        json = servedJson(item) ?? null;
        this.served.set(item, json);
      }
      if (json !== null) parts.push(json);
    }
    // Oldest verdicts first out; the list itself only ever drops its oldest items.
    for (const old of this.served.keys()) {
      if (this.served.size <= 2 * this.historyLimit) break;
      this.served.delete(old);
    }
    return `[${parts.join(',')}]`;
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
  return !!x && typeof x.id === 'string' && typeof x.author === 'string' && typeof x.text === 'string' && typeof x.at === 'string';
}

/** Only a message's fields; a missing replica reads as ''. */
function normalise(m: Omit<ChatMessage, 'replica'> & { replica?: unknown }): ChatMessage {
  return { id: m.id, author: m.author, text: m.text, at: m.at, replica: typeof m.replica === 'string' ? m.replica : '' };
}
