// doks-chat page: history over fetch, live messages over Server-Sent Events. ES modules,
// no build step: this wires the list, the status bar and the composer to
//   verdict.js   what a Redis restart did, read off the facts the server records (pure)
//   render.js    how messages and lines look
//   live-feed.js the event stream, reconnected for ever
//   send.js      sending each message at most once
import { formatDuration, renderLine, renderMessage, setLost } from './render.js';
import { fromAnotherRun, reconcile, restartWords, trim } from './verdict.js';
import { openLiveFeed } from './live-feed.js';
import { NotSent, createSender, newKey } from './send.js';

const $ = (id) => document.getElementById(id);
const list = $('messages');
const empty = $('empty');
const form = $('composer');
const authorInput = $('author');
const textInput = $('text');
const notice = $('notice');
const olderButton = $('older');
const ui = {
  connection: $('connection'),
  replica: $('feed-replica'),
  mode: $('redis-mode'),
  uptime: $('redis-uptime'),
  kept: $('messages-kept'),
  disk: $('redis-disk'),
};

const STATUS_EVERY_MS = 10000;
/** A history read that failed is tried again after 1, 2, 4, 8, then every 15 s (± a little). */
const SYNC_RETRY_MAX_MS = 15000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the list -------------------------------------------------------------

// The list's model, top to bottom (verdict.js's entries: messages, some lost, and lines),
// and each entry's element.
let entries = [];
const nodes = new Map();
// The run the list last matched, and the runs of what it held then (verdict.js's `known`).
let known = null;
let historyLimit = 100;
// Ids of the messages added while a history read is on its way: not that read's to judge.
let arrivedDuringSync = null;

const keyOf = (e) => (e.kind === 'message' ? 'm:' + e.message.id : 'l:' + e.line.runId);

function nearBottom() {
  const main = list.parentElement;
  return main.scrollHeight - main.scrollTop - main.clientHeight < 80;
}

function scrollToEnd() {
  const main = list.parentElement;
  main.scrollTop = main.scrollHeight;
}

/** Makes the DOM show `entries`, moving only what moved. */
function render({ scroll = false } = {}) {
  const stick = scroll || nearBottom();
  entries = trim(entries, historyLimit);
  const keep = new Set();
  let prev = null;
  for (const e of entries) {
    const key = keyOf(e);
    keep.add(key);
    let li = nodes.get(key);
    if (!li) {
      li =
        e.kind === 'message'
          ? renderMessage(e.message)
          : renderLine(e.line, e.line.startedAt || new Date(), restartWords(e.line));
      nodes.set(key, li);
    }
    if (e.kind === 'message') setLost(li, !!e.lost);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const [key, li] of nodes) {
    if (!keep.has(key)) {
      li.remove();
      nodes.delete(key);
    }
  }
  empty.hidden = entries.length > 0;
  if (stick) scrollToEnd();
}

const isMessage = (m) => !!m && typeof m.id === 'string';

/** A message that just happened (live feed or this page's POST): at the end. */
function addMessage(m) {
  if (!isMessage(m) || nodes.has('m:' + m.id)) return false;
  entries.push({ kind: 'message', message: m });
  if (arrivedDuringSync) arrivedDuringSync.add(m.id);
  render();
  // From a run the list has not matched: Redis restarted; read the history to judge it.
  if (known && fromAnotherRun(m, known)) void resync();
  return true;
}

// ---- history and Redis restarts -------------------------------------------

async function errorText(res) {
  try {
    return (await res.json()).error || res.statusText;
  } catch (_) {
    return res.status + ' ' + res.statusText;
  }
}

class HttpFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function fetchJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new HttpFailure(res.status, await errorText(res));
  return res.json();
}

let syncing = null;
let syncAgain = false;

/** Brings the list in line with Redis's history; one read at a time, once more if asked meanwhile. */
function resync() {
  if (syncing) {
    syncAgain = true;
    return syncing;
  }
  syncing = (async () => {
    try {
      do {
        syncAgain = false;
        await syncUntilDone();
      } while (syncAgain);
    } finally {
      syncing = null;
    }
  })();
  return syncing;
}

/**
 * Reads the newest history page, with the facts of the Redis run that served it, and
 * lets verdict.js bring the list in line. A read that fails (Redis away, a replica that
 * has not reached the new Redis yet) is tried again, for as long as it takes: the list is
 * never judged with anything but an answer's own facts.
 */
async function syncUntilDone() {
  for (let failures = 0; ; failures++) {
    if (failures) {
      const ceiling = Math.min(SYNC_RETRY_MAX_MS, 1000 * 2 ** (failures - 1));
      await sleep(ceiling * (0.75 + Math.random() * 0.25));
    }
    const arrived = (arrivedDuringSync = new Set());
    let page;
    try {
      page = await fetchJson('/api/messages');
    } catch (err) {
      showNotice('Could not load history: ' + err.message + ' (trying again)');
      continue;
    } finally {
      arrivedDuringSync = null;
    }
    const readAt = Date.now();
    const result = reconcile({ entries, known, arrived }, page);
    entries = result.entries;
    known = result.known;
    if (result.restart) {
      result.restart.startedAt = new Date(readAt - (result.restart.uptimeSeconds || 0) * 1000);
      olderCursor = page.before;
    } else if (olderCursor === undefined) olderCursor = page.before;
    showFacts(page.redis);
    hideNotice('Could not load history');
    render({ scroll: !!result.restart });
    showOlderButton();
    if (!result.again) return;
  }
}

// ---- older pages ----------------------------------------------------------

// The `before` cursor of the oldest page shown: null when it is the oldest Redis keeps,
// undefined until the first history read. It names the Redis run it came from.
let olderCursor;

function showOlderButton() {
  olderButton.hidden = olderCursor === null || olderCursor === undefined;
}

olderButton.addEventListener('click', async () => {
  olderButton.disabled = true;
  try {
    const page = await fetchJson('/api/messages?before=' + encodeURIComponent(olderCursor));
    const older = page.messages.filter((m) => isMessage(m) && !nodes.has('m:' + m.id));
    entries = older.map((message) => ({ kind: 'message', message })).concat(entries);
    olderCursor = page.before;
    render();
    hideNotice();
  } catch (err) {
    if (err.status === 410) {
      // The cursor is from a Redis that restarted since: start again from the newest page.
      olderCursor = undefined;
      void resync();
    } else showNotice('Could not load older messages: ' + err.message);
  } finally {
    olderButton.disabled = false;
    showOlderButton();
  }
});

// ---- status bar -----------------------------------------------------------

let feedOpen = false;
let redisUp = false;
let uptime = null; // { seconds, at: Date.now() when read }
let kept = null;

/** Reads the status; a Redis run the list does not match (a restart) starts a resync. */
async function refreshStatus() {
  let s = null;
  try {
    s = await fetchJson('/api/status');
  } catch (_) {
    /* shown as down */
  }
  showStatus(s);
  if (s && s.redis.connected && known && s.redis.runId !== known.runId) void resync();
}

function showStatus(s) {
  redisUp = !!(s && s.redis.connected);
  if (s) historyLimit = s.historyLimit || historyLimit;
  if (redisUp) {
    showFacts(s.redis);
    kept = s.redis.messages;
  }
  renderStatus();
}

/** aof, memory, or the managed service with rdb snapshots (and their interval) or none. */
function modeText(r) {
  const where = r.managed ? 'managed, ' : '';
  if (r.persistence === 'aof') return where + 'AOF (persistent)';
  if (r.persistence === 'rdb') {
    const every = r.snapshotSeconds >= 60 ? Math.round(r.snapshotSeconds / 60) + ' min' : r.snapshotSeconds + ' s';
    return where + 'RDB snapshots every ' + every;
  }
  return r.managed ? 'managed, no snapshots' : 'memory-only';
}

/** What Redis says about itself, from a status or a history answer. */
function showFacts(redis) {
  ui.mode.textContent = modeText(redis);
  ui.mode.title =
    redis.persistence === 'aof'
      ? 'appendonly yes: history survives a Redis restart'
      : redis.persistence === 'rdb'
        ? 'RDB snapshots only: a crash loses what was written since the last dump'
        : 'no persistence: a Redis restart empties the history';
  uptime = { seconds: redis.uptimeSeconds, at: Date.now() };
  ui.disk.hidden = redis.writable !== false;
}

function renderStatus() {
  const live = feedOpen && redisUp;
  ui.connection.textContent = live ? 'live' : 'reconnecting…';
  ui.connection.className = 'state ' + (live ? 'live' : 'reconnecting');
  ui.uptime.textContent = uptime && redisUp ? formatDuration(uptime.seconds + (Date.now() - uptime.at) / 1000) : '–';
  ui.kept.textContent = kept === null ? '–' : kept + ' / ' + historyLimit;
}

/** One more message kept in Redis (until the list is full). */
function countNew() {
  if (kept === null) return;
  kept = Math.min(kept + 1, historyLimit);
  renderStatus();
}

// ---- notices --------------------------------------------------------------

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
}

/** Hides the notice (only one that starts with `prefix`, when given). */
function hideNotice(prefix) {
  if (prefix && !notice.textContent.startsWith(prefix)) return;
  notice.hidden = true;
  notice.textContent = '';
}

// ---- sending --------------------------------------------------------------

const sender = createSender({
  post: async (key, message) => {
    const res = await fetch('/api/messages', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': '"' + key + '"' },
      body: JSON.stringify(message),
    });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      /* not JSON */
    }
    return { status: res.status, retryAfter: res.headers.get('Retry-After'), body };
  },
  sleep,
  newKey,
});

function waitText({ ms, reason, maybeStored }) {
  const seconds = Math.max(1, Math.round(ms / 1000));
  return maybeStored
    ? 'Not confirmed yet: ' +
        reason +
        '. Sending it again in ' +
        seconds +
        ' s with the same key, so it is stored once.'
    : 'Sending again in ' + seconds + ' s: ' + reason;
}

// A plain input inside a form: Enter submits.
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const author = authorInput.value.trim();
  const text = textInput.value.trim();
  if (!author || !text) return;
  localStorage.setItem('doks-chat-author', author);
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const message = await sender.send(author, text, (wait) => showNotice(waitText(wait)));
    hideNotice();
    // Clear only what was sent: text typed while the POST was in flight stays.
    if (textInput.value.trim() === text) textInput.value = '';
    if (addMessage(message)) countNew();
    scrollToEnd();
  } catch (err) {
    // Surely not stored. The text stays, with its key, so sending it again is safe.
    showNotice('Not sent: ' + (err instanceof NotSent ? err.message : String(err)));
  } finally {
    button.disabled = false;
    textInput.focus();
  }
});

// ---- start ----------------------------------------------------------------

authorInput.value = localStorage.getItem('doks-chat-author') || '';
(authorInput.value ? textInput : authorInput).focus();
renderStatus();
openLiveFeed({
  onHello: (replica) => {
    if (replica) ui.replica.textContent = replica;
    feedOpen = true;
    renderStatus();
    void refreshStatus();
  },
  onOpen: () => {
    hideNotice('Could not load history');
    void resync();
  },
  onMessage: (m) => {
    if (addMessage(m)) countNew();
  },
  onDown: () => {
    feedOpen = false;
    renderStatus();
    void refreshStatus(); // is it Redis, or this replica?
  },
});
void refreshStatus();
setInterval(refreshStatus, STATUS_EVERY_MS);
setInterval(renderStatus, 1000);
