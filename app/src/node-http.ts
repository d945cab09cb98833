import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the live feed relies on in Node's HTTP server beyond its documented API, in one
 * place, each with what happens when a Node release changes it. The live-feed tests
 * (app/test/service-live-feed.test.ts) check every one, with its fallback, on the Node
 * the tests run on and on the image's (CI runs them on both).
 *
 * 1. `res.chunkedEncoding` (undocumented): true once Node has decided to frame this
 *    response's body as HTTP/1.1 chunks (not for HTTP/1.0, not with a Content-Length).
 *    The live feed then writes its events to the socket itself, framed once per flush
 *    for every stream (RFC 9112 §7.1: the size in hex, CRLF, the data, CRLF — the bytes
 *    res.write would send), which is what makes fan-out cheap. Anything but `true`
 *    (HTTP/1.0, or a Node without the field) falls back to res.write, which frames, or
 *    not, by itself. Raw writes start only once res.write has handed what it holds to the
 *    socket (its write callback): Node 24 keeps a response's first writes until the next
 *    tick, and a raw write before then would overtake the headers.
 * 2. A response queued behind another on its connection (HTTP/1.1 pipelining) has no
 *    socket (`res.socket` is null) until the responses before it have finished; Node
 *    then assigns it and emits 'socket' on it (an event documented for requests, not
 *    for responses). Node 20 never emits 'close' on such a response when the connection
 *    closes (Node 24 does). So a live-feed stream starts only once it is its
 *    connection's response, and is let go when either the response or the connection
 *    (net.Socket 'close', documented) closes, whichever Node reports.
 */

/** Whether `res` is the response its connection is writing now (not one queued behind another). */
export function isConnectionsResponse(req: IncomingMessage, res: ServerResponse): boolean {
  return res.socket !== null && res.socket === req.socket;
}

/**
 * Calls `then` once `res` becomes its connection's response, or never, when the
 * connection closes first (nothing is held for it then but this listener, which goes
 * with the connection).
 */
export function whenConnectionsResponse(req: IncomingMessage, res: ServerResponse, then: () => void): void {
  const socket = req.socket;
  const onSocket = () => {
    socket.off('close', onClose);
    then();
  };
  const onClose = () => res.off('socket', onSocket);
  res.once('socket', onSocket);
  socket.once('close', onClose);
}

/** Calls `fn` once, when the response or its connection closes, whichever Node reports first. */
export function onResponseGone(req: IncomingMessage, res: ServerResponse, fn: () => void): void {
  const socket = req.socket;
  let done = false;
  const gone = () => {
    if (done) return;
    done = true;
    res.off('close', gone);
    socket.off('close', gone);
    fn();
  };
  res.once('close', gone);
  socket.once('close', gone);
}

/**
 * For a response Node frames as HTTP/1.1 chunks and that owns its connection: a function
 * that writes bytes already framed by frameChunk() straight to the socket. Undefined
 * otherwise (HTTP/1.0; a Node whose `chunkedEncoding` means something else): then write
 * the unframed data with res.write. Ask for it only in the callback of a res.write (see 1.).
 */
export function rawChunkWriter(req: IncomingMessage, res: ServerResponse): ((framed: Buffer) => void) | undefined {
  const socket = req.socket;
  if ((res as { chunkedEncoding?: unknown }).chunkedEncoding !== true || !isConnectionsResponse(req, res))
    return undefined;
  return (framed) => {
    if (!socket.destroyed) socket.write(framed);
  };
}

const CRLF = Buffer.from('\r\n');

/** `data` as one HTTP/1.1 chunk: the same bytes res.write(data) sends on a chunked response. */
export function frameChunk(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF]);
}
