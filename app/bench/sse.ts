import http from 'node:http';

/**
 * A minimal live-feed (Server-Sent Events) client on its own TCP connection, so the
 * local stack's round-robin gives each one to the next replica. It learns which replica
 * serves it from the stream's first event (`event: hello`, data {"replica": ...}) and
 * timestamps every message event as its last byte arrives.
 */
export interface FeedEvent {
  data: unknown;
  at: number;
}

export class FeedClient {
  replica = '';
  private req?: http.ClientRequest;
  private waiters = new Map<string, (at: number) => void>();
  /** Arrival time by message text, for messages that came before anyone waited for them. */
  private early = new Map<string, number>();

  /** Connects and resolves once the hello event named the replica. */
  open(baseUrl: string, timeoutMs = 5000): Promise<this> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new Error(`${baseUrl}/api/events sent no hello event within ${timeoutMs} ms`));
      }, timeoutMs);
      const req = http.get(
        `${baseUrl}/api/events`,
        { agent: false, headers: { accept: 'text/event-stream' } },
        (res) => {
          if (res.statusCode !== 200) {
            clearTimeout(timer);
            res.resume();
            reject(new Error(`GET /api/events answered ${res.statusCode}`));
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            const at = performance.now();
            buf += chunk;
            let end;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              let event = 'message';
              const data: string[] = [];
              for (const line of block.split('\n')) {
                if (line.startsWith('event:')) event = line.slice(6).trim();
                else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
              }
              if (data.length === 0) continue; // a comment (keep-alive) or retry hint
              // The hello event's {replica}, or a message.
              let parsed: { replica?: unknown; text?: unknown } | null;
              try {
                parsed = JSON.parse(data.join('\n')) as typeof parsed;
              } catch {
                continue;
              }
              if (event === 'hello') {
                this.replica = typeof parsed?.replica === 'string' ? parsed.replica : '';
                clearTimeout(timer);
                resolve(this);
              } else if (event === 'message' && typeof parsed?.text === 'string') {
                const waiter = this.waiters.get(parsed.text);
                if (waiter) {
                  this.waiters.delete(parsed.text);
                  waiter(at);
                } else this.early.set(parsed.text, at);
              }
            }
          });
        },
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.req = req;
    });
  }

  /** When the message with this text arrived (performance.now()), waiting up to timeoutMs. */
  arrival(text: string, timeoutMs: number): Promise<number | undefined> {
    const at = this.early.get(text);
    if (at !== undefined) {
      this.early.delete(text);
      return Promise.resolve(at);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(text);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(text, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }

  /** Forget messages nobody will ask for (those that reached this client from its own replica). */
  forget(text: string): void {
    this.early.delete(text);
  }

  close(): void {
    this.req?.destroy();
  }
}
