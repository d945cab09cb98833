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
    const n = Math.max(1, Math.min(Math.floor(limit), this.historyLimit));
    const items = await this.redis.lrange(this.key, -n, -1);
    return items.map(parseMessage).filter((m): m is ChatMessage => m !== undefined);
  }

  /** How many messages Redis holds. */
  count(): Promise<number> {
    return this.redis.llen(this.key);
  }
}

/** A message from the list or the channel; undefined for anything that is not one (e.g. written by hand with redis-cli). */
export function parseMessage(json: string): ChatMessage | undefined {
  try {
    const m = JSON.parse(json) as Partial<ChatMessage> | null;
    if (m && typeof m.id === 'string' && typeof m.author === 'string' && typeof m.text === 'string' && typeof m.at === 'string') {
      return { id: m.id, author: m.author, text: m.text, at: m.at, replica: typeof m.replica === 'string' ? m.replica : '' };
    }
  } catch {
    // not JSON
  }
  return undefined;
}
