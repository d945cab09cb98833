import type { Response } from 'express';
import { HttpError } from './errors';

export interface UnsentBudgetOptions {
  /** Most bytes of responses this replica holds that clients have not taken yet. */
  maxBytes: number;
  /** A response not taken whole within this long is cut (a client that does not read). */
  stallMs: number;
}

export const UNSENT_BUDGET_DEFAULTS: UnsentBudgetOptions = { maxBytes: 16 * 1024 * 1024, stallMs: 30_000 };

/**
 * Bounds what clients that do not read can make a replica hold, as the live feed does
 * for its streams: a response counts against the budget from when it is sent until the
 * client has taken it all (or it is cut); past the budget, new reads answer 503 with
 * Retry-After, and a response stalled for `stallMs` is cut.
 */
export class UnsentBudget {
  private pending = 0;

  constructor(private readonly opts: UnsentBudgetOptions = UNSENT_BUDGET_DEFAULTS) {}

  /** Bytes sent and not yet taken by their clients. */
  get unsentBytes(): number {
    return this.pending;
  }

  /** Sends a JSON body, or throws a 503 when the budget is spent. */
  sendJson(res: Response, body: string): void {
    const size = Buffer.byteLength(body);
    if (this.pending > 0 && this.pending + size > this.opts.maxBytes) {
      throw new HttpError(503, 'this replica is busy sending history to slow clients; try again in a moment', {
        'Retry-After': '1',
      });
    }
    this.pending += size;
    const stalled = setTimeout(() => res.destroy(), this.opts.stallMs);
    stalled.unref();
    // 'close' follows 'finish' (all handed to the kernel) or an abort: either way it is released.
    res.once('close', () => {
      clearTimeout(stalled);
      this.pending -= size;
    });
    res.type('application/json; charset=utf-8').send(body);
  }
}
