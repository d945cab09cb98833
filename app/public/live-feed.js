// The live feed: Server-Sent Events from GET /api/events, reconnected for ever.

const RETRY_MS = 2000;
const RETRY_MAX_MS = 30000;

/**
 * Opens the feed and keeps it open. A refused stream (503: Redis is down, or this replica
 * or this address has as many live-feed streams as it allows) closes the EventSource,
 * which cannot read the status or Retry-After; then it is opened again after a random
 * wait that doubles with each refusal in a row (1-2 s, 2-4 s, ... up to 15-30 s), so
 * pages turned away together do not all come back together. A stream that opens (its
 * hello) starts over.
 * @param {{
 *   onHello: (replica: string | undefined) => void,
 *   onOpen: () => void,
 *   onMessage: (message: any) => void,
 *   onDown: () => void,
 * }} on
 */
export function openLiveFeed(on) {
  let failures = 0;
  const retryDelay = () => {
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** failures);
    failures++;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  };
  const connect = () => {
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (e) => {
      failures = 0;
      let replica;
      try {
        replica = JSON.parse(e.data).replica;
      } catch (_) {
        /* keep the old name */
      }
      on.onHello(replica);
    });
    // Every (re)connect: the page reads the history again, so nothing sent meanwhile is
    // missed and a restart shows.
    es.onopen = () => on.onOpen();
    es.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      on.onMessage(m);
    };
    es.onerror = () => {
      on.onDown();
      // The browser retries a dropped stream by itself, but gives up on an error status.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(connect, retryDelay());
      }
    };
  };
  connect();
}
