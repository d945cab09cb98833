import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatMessage } from '../src/chat-store';
import type { ChatApi } from './api';

/** One message the service acknowledged with 201. */
export interface Ack {
  message: ChatMessage;
  /** Date.now() when the 201 arrived. */
  ackedAt: number;
}

/**
 * The --load writer: posts at a steady rate (default 200/s) through the kill, on
 * new connections, and records every 201. A paced writer rather than a flat-out one,
 * so that "one second of writes" is a stable number and the history stays readable.
 * Up to `maxInFlight` requests are outstanding; while Redis is down they come back
 * 503 quickly (the service promises < 2 s), and the writer carries on.
 */
export class LoadWriter {
  readonly acks: Ack[] = [];
  /** Non-201 answers by status; network errors under "error". */
  readonly rejected = new Map<string, number>();
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private seq = 0;
  private loop?: Promise<void>;

  constructor(
    private readonly api: ChatApi,
    private readonly opts: { rate: number; author: string; textPrefix: string; maxInFlight?: number },
  ) {}

  get rejectedCount(): number {
    let n = 0;
    for (const v of this.rejected.values()) n += v;
    return n;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops posting and waits for the requests still in flight (their acks count). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    const began = Date.now();
    let issued = 0;
    const maxInFlight = this.opts.maxInFlight ?? 64;
    while (this.running) {
      const due = Math.floor(((Date.now() - began) * this.opts.rate) / 1000);
      while (issued < due && this.inFlight.size < maxInFlight && this.running) {
        issued++;
        const p: Promise<void> = this.postOne().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      // A writer that falls behind (too many in flight) skips the backlog rather than bursting later.
      if (issued < due && this.inFlight.size >= maxInFlight) issued = due;
      await sleep(5);
    }
  }

  private async postOne(): Promise<void> {
    const text = `${this.opts.textPrefix}-${++this.seq}`;
    try {
      const res = await this.api.post(this.opts.author, text);
      if (res.status === 201 && res.message) this.acks.push({ message: res.message, ackedAt: Date.now() });
      else this.count(String(res.status));
    } catch {
      this.count('error');
    }
  }

  private count(key: string): void {
    this.rejected.set(key, (this.rejected.get(key) ?? 0) + 1);
  }
}
