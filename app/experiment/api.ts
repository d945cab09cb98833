import { httpRequest, type HttpResponse } from '../local/http';
import type { ChatMessage, RunFacts } from '../src/chat-store';
import { PAGE_MAX_MESSAGES } from '../src/validation';

export type Request = typeof httpRequest;

export class ChatApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * The chat service's HTTP interface, as the experiment uses it. Each request opens
 * its own connection (app/local/http), so successive requests reach successive
 * replicas, the way new browser connections spread over the load balancer.
 */
export class ChatApi {
  readonly base: string;

  constructor(
    url: string,
    private readonly request: Request = httpRequest,
    private readonly timeoutMs = 5000,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  /** POST /api/messages. Resolves with the status and, on 201, the stored message; rejects only on network errors. */
  async post(author: string, text: string): Promise<{ status: number; message?: ChatMessage; error?: string }> {
    const res = await this.request(`${this.base}/api/messages`, {
      method: 'POST',
      body: { author, text },
      timeoutMs: this.timeoutMs,
    });
    if (res.status === 201) {
      const message = res.json as ChatMessage | undefined;
      if (!message || typeof message.id !== 'string') {
        throw new ChatApiError(`POST /api/messages answered 201 without a message id: ${res.body.slice(0, 200)}`, 201);
      }
      return { status: 201, message };
    }
    return { status: res.status, error: errorText(res) };
  }

  /**
   * GET /api/messages, page by page (`?before=` cursors), oldest first: the last `limit`
   * messages, or without a limit all the service keeps. A page is bounded in count and
   * bytes by the service, so no single response grows with the history.
   */
  async messages(limit?: number): Promise<ChatMessage[]> {
    return (await this.history(limit)).messages;
  }

  /**
   * The history with the facts the service recorded: the position of the oldest message
   * kept, and the runs of Redis that stored messages (from the newest page, read first).
   */
  async history(limit?: number): Promise<HistoryRead> {
    const pages: ChatMessage[][] = [];
    let newest: { oldest: number; redis: RunFacts } | undefined;
    let wanted = limit ?? Infinity;
    let before: string | null | undefined;
    while (wanted > 0 && before !== null) {
      const query = new URLSearchParams({ limit: String(Math.min(wanted, PAGE_MAX_MESSAGES)) });
      if (before !== undefined) query.set('before', before);
      const page = await this.page(query);
      newest ??= page;
      pages.unshift(page.messages);
      wanted -= page.messages.length;
      before = page.messages.length > 0 ? page.before : null;
    }
    if (!newest) throw new ChatApiError('GET /api/messages returned no page', 0);
    return { messages: pages.flat(), oldest: newest.oldest, redis: newest.redis };
  }

  private async page(
    query: URLSearchParams,
  ): Promise<{ messages: ChatMessage[]; before: string | null; oldest: number; redis: RunFacts }> {
    const res = await this.request(`${this.base}/api/messages?${query.toString()}`, {
      timeoutMs: Math.max(this.timeoutMs, 15_000),
    });
    if (res.status !== 200) {
      throw new ChatApiError(`GET /api/messages answered ${res.status}: ${errorText(res)}`, res.status);
    }
    const body = res.json as { messages?: unknown; before?: unknown; oldest?: unknown; redis?: unknown } | undefined;
    if (
      !Array.isArray(body?.messages) ||
      (body.before !== null && typeof body.before !== 'string') ||
      typeof body.oldest !== 'number' ||
      typeof body.redis !== 'object' ||
      body.redis === null
    ) {
      throw new ChatApiError(
        `GET /api/messages did not return {"messages": [...], "before": ...}: ${res.body.slice(0, 200)}`,
        res.status,
      );
    }
    return {
      messages: body.messages as ChatMessage[],
      before: body.before,
      oldest: body.oldest,
      redis: body.redis as RunFacts,
    };
  }

  /** GET /readyz: true on 200, false on any other status or a network error. */
  async ready(): Promise<boolean> {
    try {
      return (await this.request(`${this.base}/readyz`, { timeoutMs: 2000 })).status === 200;
    } catch {
      return false;
    }
  }

  /** GET /api/status's historyLimit, or undefined when the service does not say. */
  async historyLimit(): Promise<number | undefined> {
    try {
      const res = await this.request(`${this.base}/api/status`, { timeoutMs: this.timeoutMs });
      const n = (res.json as { historyLimit?: unknown } | undefined)?.historyLimit;
      return res.status === 200 && typeof n === 'number' && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }
}

function errorText(res: HttpResponse): string {
  const e = (res.json as { error?: unknown } | undefined)?.error;
  return typeof e === 'string' ? e : res.body.slice(0, 200);
}

/** The history as read back after a restart, with what the service recorded about it. */
export interface HistoryRead {
  messages: ChatMessage[];
  /** The append position of the oldest message kept: older ones were trimmed by the limit. */
  oldest: number;
  /** The Redis run that answered, where it started, and the runs that stored messages. */
  redis: Pick<RunFacts, 'runId' | 'startPosition' | 'runs'>;
}
