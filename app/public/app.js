// doks-chat page: history over fetch, live messages over Server-Sent Events.
// User text only ever goes into the DOM through textContent.
'use strict';

(function () {
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
  };

  const RETRY_MS = 2000;
  const STATUS_EVERY_MS = 10000;
  // A resync reads status, history, status; it tries again while those do not agree.
  const SYNC_TRIES = 5;
  const SYNC_RETRY_MS = 1000;

  const shown = new Map(); // message id -> <li>, stored or no longer stored
  let historyLimit = 100;
  let feedOpen = false;
  let redisUp = false;
  let uptime = null; // { seconds, at: Date.now() when read }
  let kept = null;
  let arrivedDuringSync = null; // ids of messages added while a resync was reading history

  // Which Redis the list matches, to notice a restart: Redis's run id, new in every process.
  let knownRun = null; // run id of the Redis whose history the list last matched; null until then
  const pastRuns = new Set(); // run ids of Redises that were replaced: never a "restart" to one of them

  // ---- messages -----------------------------------------------------------

  function renderMessage(m) {
    const li = document.createElement('li');
    li.className = 'message';
    li.dataset.id = m.id;
    li.dataset.at = m.at;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = m.author;
    const time = document.createElement('time');
    time.dateTime = m.at;
    const at = new Date(m.at);
    time.textContent = isNaN(at) ? '' : at.toLocaleTimeString();
    meta.append(author, time);
    if (m.replica) {
      const via = document.createElement('span');
      via.className = 'replica';
      via.textContent = 'via ' + m.replica;
      meta.append(via);
    }
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text;
    li.append(meta, text);
    return li;
  }

  function isMessage(m) {
    return !!m && typeof m.id === 'string';
  }

  function isLost(li) {
    return li.classList.contains('lost');
  }

  /** Messages Redis still has (as far as this page knows), in list order. */
  function storedItems() {
    return Array.from(list.querySelectorAll('li.message:not(.lost)'));
  }

  function nearBottom() {
    const main = list.parentElement;
    return main.scrollHeight - main.scrollTop - main.clientHeight < 80;
  }

  function scrollToEnd() {
    const main = list.parentElement;
    main.scrollTop = main.scrollHeight;
  }

  function updateEmpty() {
    empty.hidden = list.children.length > 0;
  }

  /** A message that just happened (live feed or this page's POST): at the end. */
  function addMessage(m) {
    if (!isMessage(m) || shown.has(m.id)) return false;
    const stick = nearBottom();
    const li = renderMessage(m);
    shown.set(m.id, li);
    list.append(li);
    if (arrivedDuringSync) arrivedDuringSync.add(m.id);
    trimList();
    empty.hidden = true;
    if (stick) scrollToEnd();
    return true;
  }

  function removeMessage(li) {
    shown.delete(li.dataset.id);
    li.remove();
  }

  /** At most historyLimit stored messages, as Redis keeps, and as many no longer stored: oldest go first. */
  function trimList() {
    for (const items of [storedItems(), Array.from(list.querySelectorAll('li.message.lost'))]) {
      for (let i = 0; i < items.length - historyLimit; i++) removeMessage(items[i]);
    }
  }

  /** A message Redis no longer has after a restart: it stays, greyed, and says so. */
  function markLost(li) {
    li.classList.add('lost');
    li.title =
      'No longer stored: Redis restarted without it. Only this page still shows it; a reload shows what the server has.';
    const mark = document.createElement('span');
    mark.className = 'lost-mark';
    mark.textContent = 'no longer stored';
    li.querySelector('.meta').append(mark);
  }

  /** One more message kept in Redis (until the list is full). */
  function countNew() {
    if (kept === null) return;
    kept = Math.min(kept + 1, historyLimit);
    renderStatus();
  }

  // ---- lines about what happened ------------------------------------------

  /** A line in the conversation that is not a message, like "X joined". parts: strings (as text) and nodes. */
  function renderEvent(kind, parts) {
    const li = document.createElement('li');
    li.className = 'event';
    li.dataset.event = kind;
    li.setAttribute('role', 'status');
    li.append(...parts);
    return li;
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  function goneText(missing, had) {
    if (missing === had) {
      const all =
        had === 1
          ? 'the message above is'
          : had === 2
            ? 'both messages above are'
            : 'all ' + had + ' messages above are';
      return all + ' gone from the server';
    }
    return missing + ' of the ' + had + ' messages above ' + (missing === 1 ? 'is' : 'are') + ' gone from the server';
  }

  /**
   * What became of the conversation, after "Redis restarted at 15:02". Says "kept" only
   * when every message this page had shown is in the reloaded history.
   */
  function restartOutcome(persistence, had, missing) {
    if (persistence === 'rdb') {
      // Snapshots only (the managed service): what came back is the last dump, no more.
      return missing === 0
        ? ' and reloaded its last snapshot: ' + plural(had, 'message', 'messages') + ' kept'
        : ' and reloaded its last snapshot, but ' + goneText(missing, had) + ' (written after that dump)';
    }
    if (persistence === 'aof') {
      return missing === 0
        ? ' and reloaded its append-only file: ' + plural(had, 'message', 'messages') + ' kept'
        : ' and reloaded its append-only file, but ' + goneText(missing, had);
    }
    if (had === 0) return ' with an empty memory: anything stored before is gone from the server';
    if (missing === had) return ' with an empty memory: the conversation above is gone from the server';
    return ' with an empty memory: ' + goneText(missing, had);
  }

  function restartLine(run, had, missing) {
    const time = document.createElement('time');
    time.dateTime = run.startedAt.toISOString();
    time.title = run.startedAt.toLocaleString();
    time.textContent = run.startedAt.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    const li = renderEvent('redis-restart', [
      'Redis restarted at ',
      time,
      restartOutcome(run.persistence, had, missing),
    ]);
    li.dataset.outcome = missing === 0 && (run.persistence === 'aof' || run.persistence === 'rdb') ? 'kept' : 'gone';
    return li;
  }

  // ---- history and Redis restarts -----------------------------------------

  async function fetchJson(url) {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(await errorText(res));
    return res.json();
  }

  /** GET /api/status, stamped with when it was read; null when unreachable. */
  async function fetchStatus() {
    try {
      const s = await fetchJson('/api/status');
      s.readAt = Date.now();
      return s;
    } catch (_) {
      return null;
    }
  }

  /**
   * The Redis run both status reads name, or null. Replicas answer in turn, but all of
   * them talk to the one Redis, so a run id read twice around a history read is the
   * run that history came from.
   */
  function sameRun(a, b) {
    if (!a || !b || !a.redis.connected || !b.redis.connected) return null;
    const id = b.redis.runId;
    if (!id || a.redis.runId !== id || pastRuns.has(id)) return null;
    return { id, persistence: b.redis.persistence, startedAt: new Date(b.readAt - b.redis.uptimeSeconds * 1000) };
  }

  let syncing = null;
  let syncAgain = false;

  /** Brings the list in line with Redis's history; one resync at a time, once more if asked meanwhile. */
  function resync() {
    if (syncing) {
      syncAgain = true;
      return syncing;
    }
    syncing = (async () => {
      try {
        do {
          syncAgain = false;
          await syncOnce();
        } while (syncAgain);
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  }

  /**
   * Reads status, history, status. When both statuses name the same Redis run, the
   * history is that Redis's and the list can be judged against it.
   */
  async function syncOnce() {
    let history = null;
    let arrived = null;
    let problem = null;
    for (let attempt = 0; attempt < SYNC_TRIES; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, SYNC_RETRY_MS));
      // Each attempt anew: a message that came during a failed one may be from the Redis before.
      arrived = arrivedDuringSync = new Set();
      try {
        const before = await fetchStatus();
        showStatus(before);
        let page;
        try {
          page = await fetchJson('/api/messages');
          history = page.messages;
        } catch (err) {
          problem = err;
          continue;
        }
        const after = await fetchStatus();
        showStatus(after);
        const run = sameRun(before, after);
        if (run) {
          hideHistoryNotice();
          applyHistory(history, run, arrived, page.before !== null);
          if (olderCursor === undefined || run.restarted) olderCursor = page.before;
          showOlderButton();
          return;
        }
      } finally {
        arrivedDuringSync = null;
      }
    }
    // Which Redis it came from is unclear: add what is new, drop nothing, judge nothing.
    if (history) addUnknown(history, arrived);
    else showNotice('Could not load history: ' + problem.message);
  }

  /**
   * Makes the list match a history read from Redis run `run`. When that run is not the
   * one the list matched before, Redis restarted: a line says so where it happened,
   * after everything shown before it, and what the page had that the new Redis lacks
   * stays, greyed. Otherwise the history is the truth: what it lacks goes.
   */
  function applyHistory(messages, run, arrived, olderOnServer) {
    const stick = nearBottom() || knownRun === null;
    const restarted = knownRun !== null && run.id !== knownRun;
    run.restarted = restarted;
    const onServer = new Set(messages.filter(isMessage).map((m) => m.id));
    // The history page starts here: a full history has dropped what is older (trimmed, not
    // lost), and with older pages on the server what is older is not this page's to judge.
    const pageStarts =
      messages.length && (olderOnServer || messages.length >= historyLimit) ? Date.parse(messages[0].at) : -Infinity;
    let had = 0;
    const missing = [];
    for (const li of storedItems()) {
      if (arrived.has(li.dataset.id)) continue; // came live after the restart: not the restart's to judge
      if (onServer.has(li.dataset.id)) had += 1;
      else if (Date.parse(li.dataset.at) < pageStarts) {
        if (!olderOnServer) removeMessage(li);
      } else {
        had += 1;
        missing.push(li);
      }
    }
    if (restarted) {
      missing.forEach(markLost);
      const firstArrived = storedItems().find((li) => arrived.has(li.dataset.id));
      list.insertBefore(restartLine(run, had, missing.length), firstArrived || null);
      pastRuns.add(knownRun);
    } else {
      missing.forEach(removeMessage);
    }
    knownRun = run.id;
    addUnknown(messages, arrived);
    trimList();
    updateEmpty();
    if (stick || restarted) scrollToEnd();
  }

  /**
   * Inserts the history's messages the list lacks, in the history's order: each before
   * the next one shown; after all of them, before those that arrived live meanwhile.
   */
  function addUnknown(messages, arrived) {
    let next = storedItems().find((li) => arrived.has(li.dataset.id)) || null;
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (!isMessage(m)) continue;
      let li = shown.get(m.id);
      if (!li) {
        li = renderMessage(m);
        shown.set(m.id, li);
        list.insertBefore(li, next);
      }
      if (!isLost(li)) next = li;
    }
    updateEmpty();
  }

  // ---- older pages --------------------------------------------------------

  // The `before` cursor of the oldest page shown: null when it is the oldest Redis keeps,
  // undefined until the first history read.
  let olderCursor;

  function showOlderButton() {
    olderButton.hidden = olderCursor === null || olderCursor === undefined;
  }

  /** Puts an older page's messages above everything shown, in their order. */
  function addOlder(messages) {
    const first = list.querySelector('li');
    for (const m of messages) {
      if (!isMessage(m) || shown.has(m.id)) continue;
      const li = renderMessage(m);
      shown.set(m.id, li);
      list.insertBefore(li, first);
    }
    updateEmpty();
  }

  olderButton.addEventListener('click', async () => {
    olderButton.disabled = true;
    try {
      const page = await fetchJson('/api/messages?before=' + encodeURIComponent(olderCursor));
      addOlder(page.messages);
      olderCursor = page.before;
      hideNotice();
    } catch (err) {
      showNotice('Could not load older messages: ' + err.message);
    } finally {
      olderButton.disabled = false;
      showOlderButton();
    }
  });

  // ---- live feed ----------------------------------------------------------

  function connectFeed() {
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (e) => {
      try {
        ui.replica.textContent = JSON.parse(e.data).replica;
      } catch (_) {
        /* keep the old name */
      }
      feedOpen = true;
      feedFailures = 0;
      renderStatus();
    });
    es.onopen = () => {
      hideNotice();
      // Every (re)connect: resync, so nothing sent meanwhile is missed and a restart shows.
      void resync();
    };
    es.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      if (addMessage(m)) countNew();
    };
    es.onerror = () => {
      feedOpen = false;
      renderStatus();
      void refreshStatus(); // is it Redis, or this replica?
      // The browser retries a dropped stream by itself, but gives up on an error
      // status (503 while Redis is down); then retry here.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(connectFeed, feedRetryDelay());
      }
    };
  }

  // A refused stream (503: Redis is down, or this replica or this address has as many
  // live-feed streams as it allows) closes the EventSource, which cannot read the status
  // or Retry-After. Wait longer after each refusal in a row (1-2 s, 2-4 s, ... up to
  // 15-30 s), at a random point of the range, so that pages turned away together do not
  // all come back together; a stream that opens (its hello) starts over.
  const FEED_RETRY_MAX_MS = 30000;
  let feedFailures = 0;

  function feedRetryDelay() {
    const ceiling = Math.min(FEED_RETRY_MAX_MS, RETRY_MS * 2 ** feedFailures);
    feedFailures++;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  // ---- status bar ---------------------------------------------------------

  /** Reads the status; a Redis run the list does not match yet (a restart) starts a resync. */
  async function refreshStatus() {
    const s = await fetchStatus();
    showStatus(s);
    const run = s && s.redis.connected ? s.redis.runId : null;
    if (run && run !== knownRun && !pastRuns.has(run)) void resync();
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

  function showStatus(s) {
    redisUp = !!(s && s.redis.connected);
    if (s) historyLimit = s.historyLimit || historyLimit;
    if (redisUp) {
      ui.mode.textContent = modeText(s.redis);
      ui.mode.title =
        s.redis.persistence === 'aof'
          ? 'appendonly yes: history survives a Redis restart'
          : s.redis.persistence === 'rdb'
            ? 'RDB snapshots only: a crash loses what was written since the last dump'
            : 'no persistence: a Redis restart empties the history';
      uptime = { seconds: s.redis.uptimeSeconds, at: Date.now() };
      kept = s.redis.messages;
    }
    renderStatus();
  }

  function formatDuration(total) {
    const s = Math.max(0, Math.floor(total));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function renderStatus() {
    const live = feedOpen && redisUp;
    ui.connection.textContent = live ? 'live' : 'reconnecting…';
    ui.connection.className = 'state ' + (live ? 'live' : 'reconnecting');
    ui.uptime.textContent = uptime && redisUp ? formatDuration(uptime.seconds + (Date.now() - uptime.at) / 1000) : '–';
    ui.kept.textContent = kept === null ? '–' : kept + ' / ' + historyLimit;
  }

  // ---- sending ------------------------------------------------------------

  async function errorText(res) {
    try {
      return (await res.json()).error || res.statusText;
    } catch (_) {
      return res.status + ' ' + res.statusText;
    }
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = false;
  }

  function hideNotice() {
    notice.hidden = true;
    notice.textContent = '';
  }

  function hideHistoryNotice() {
    if (notice.textContent.startsWith('Could not load history')) hideNotice();
  }

  // Retries of one message carry one Idempotency-Key, so the server stores it at most once
  // even when an answer was lost (a 503 after a timeout, a dropped connection).
  const SEND_TRIES = 4;
  let pending = null; // { author, text, key } of a message not known to be stored

  /** A random UUID; crypto.randomUUID needs a secure context, and the chat may be plain http. */
  function newKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /**
   * POSTs the message, retrying a 503 or a network error with the same key (after
   * Retry-After, or 1, 2, 4 s). Resolves with the stored message; rejects with the
   * server's reason, leaving `pending` set when the message may still be unsent.
   */
  async function send(author, text) {
    if (!pending || pending.author !== author || pending.text !== text) pending = { author, text, key: newKey() };
    const { key } = pending;
    let problem;
    for (let attempt = 0; attempt < SEND_TRIES; attempt++) {
      let res;
      try {
        res = await fetch('/api/messages', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': '"' + key + '"' },
          body: JSON.stringify({ author, text }),
        });
      } catch (err) {
        problem = new Error('the server did not answer (' + err.message + ')');
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
        continue;
      }
      if (res.status === 201) {
        pending = null;
        return res.json();
      }
      problem = new Error(await errorText(res));
      if (res.status !== 503) {
        pending = null; // refused: nothing was stored, and the same key would not help
        throw problem;
      }
      const after = Number(res.headers.get('Retry-After'));
      await new Promise((r) => setTimeout(r, (after > 0 ? after : 2 ** attempt) * 1000));
    }
    throw problem;
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
      const message = await send(author, text);
      hideNotice();
      // Clear only what was sent: text typed while the POST was in flight stays.
      if (textInput.value.trim() === text) textInput.value = '';
      if (addMessage(message)) countNew();
      scrollToEnd();
    } catch (err) {
      // Keep the text so it can be sent again (with the same key, while it is unchanged).
      showNotice('Not sent: ' + err.message);
    } finally {
      button.disabled = false;
      textInput.focus();
    }
  });

  authorInput.value = localStorage.getItem('doks-chat-author') || '';
  (authorInput.value ? textInput : authorInput).focus();
  renderStatus();
  connectFeed(); // its first open reads status and history
  setInterval(refreshStatus, STATUS_EVERY_MS);
  setInterval(renderStatus, 1000);
})();
