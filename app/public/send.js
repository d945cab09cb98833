// Sending a message at most once, whatever the network and Redis do. No DOM: the page
// (app.js) gives it a way to POST and to wait, the unit tests (app/test/page-send.test.ts)
// give it fakes.
//
// Every message has one Idempotency-Key, kept while its text is unchanged, so the server
// stores it at most once however often it is sent. An answer may mean the message may be
// stored (a 503 without `"stored": false`: Redis did not confirm in time; a network error;
// another 5xx): from then on the message is "maybe stored", and only a definite answer
// ends it (201, or a refusal of the request itself). Until then it is retried with its
// key, honouring Retry-After on a 503 or a 429, and never reported as not sent.

/** Not stored, for the reason the server gave: the key stays with the text, so sending it again is safe. */
export class NotSent extends Error {}

/** The longest wait between two tries. */
export const MAX_WAIT_MS = 30000;
/** Tries of a message surely not stored so far (the server said "not stored", e.g. Redis is away), before giving up. */
export const NOT_STORED_TRIES = 4;

/** Retry-After in delta-seconds, as the service sends it, in ms; undefined without one. */
function retryAfterMs(value) {
  if (value === null || value === undefined || !/^\d+$/.test(String(value).trim())) return undefined;
  return Math.min(MAX_WAIT_MS * 2, Number(value) * 1000);
}

/**
 * @typedef {{ status: number, retryAfter?: string | null, body?: any }} Answer
 * @typedef {{ ms: number, reason: string, maybeStored: boolean }} Wait
 * @param {{
 *   post: (key: string, message: { author: string, text: string }) => Promise<Answer>,
 *   sleep: (ms: number) => Promise<void>,
 *   newKey: () => string,
 * }} io post rejects on a network error
 */
export function createSender({ post, sleep, newKey }) {
  /** @type {{ author: string, text: string, key: string, maybeStored: boolean } | null} */
  let pending = null;
  return {
    /** The message not known to be stored yet, with its key. */
    get pending() {
      return pending;
    },
    /**
     * Resolves with the stored message; rejects with NotSent only when it is surely not
     * stored. `onWait` hears about every wait before a retry.
     * @param {string} author
     * @param {string} text
     * @param {(w: Wait) => void} [onWait]
     */
    async send(author, text, onWait = () => {}) {
      if (!pending || pending.author !== author || pending.text !== text)
        pending = { author, text, key: newKey(), maybeStored: false };
      const p = pending;
      for (let attempt = 0; ; attempt++) {
        const backoff = Math.min(MAX_WAIT_MS, 1000 * 2 ** Math.min(attempt, 5));
        /** @type {Answer} */
        let res;
        try {
          res = await post(p.key, { author, text });
        } catch (err) {
          p.maybeStored = true;
          const reason = 'the server did not answer (' + /** @type {Error} */ (err).message + ')';
          onWait({ ms: backoff, reason, maybeStored: true });
          await sleep(backoff);
          continue;
        }
        const body = res.body || {};
        if (res.status === 201) {
          if (pending === p) pending = null;
          return body;
        }
        const reason = typeof body.error === 'string' ? body.error : 'the server answered ' + res.status;
        const retryable = res.status === 429 || res.status >= 500;
        if (!retryable) {
          // The request itself was refused (400, 413, 415, 422): sent again, it would be refused again.
          if (res.status === 422 && pending === p) pending = null;
          throw new NotSent(reason);
        }
        if (!p.maybeStored) {
          if (res.status >= 500 && res.status !== 507 && body.stored !== false) p.maybeStored = true;
          else if (res.status !== 503 || attempt + 1 >= NOT_STORED_TRIES) throw new NotSent(reason);
        }
        // Maybe stored: whatever this try met (the rate limit, a full disk, Redis away), only a
        // definite answer ends it; a try that stored nothing says nothing of an earlier one.
        const ms = retryAfterMs(res.retryAfter) ?? backoff;
        onWait({ ms, reason, maybeStored: p.maybeStored });
        await sleep(ms);
      }
    },
  };
}

/** A random UUID; crypto.randomUUID needs a secure context, and the chat may be plain http. */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
}
