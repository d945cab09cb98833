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
  const ui = {
    connection: $('connection'),
    replica: $('feed-replica'),
    mode: $('redis-mode'),
    uptime: $('redis-uptime'),
    kept: $('messages-kept'),
  };

  const RETRY_MS = 2000;
  const STATUS_EVERY_MS = 10000;

  const shown = new Map(); // message id -> <li>
  let historyLimit = 100;
  let feedOpen = false;
  let redisUp = false;
  let uptime = null; // { seconds, at: Date.now() when read }
  let kept = null;
  let receivedDuringReload = null; // messages that arrived while history was loading

  // ---- messages -----------------------------------------------------------

  function renderMessage(m) {
    const li = document.createElement('li');
    li.className = 'message';
    li.dataset.id = m.id;
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

  function nearBottom() {
    const main = list.parentElement;
    return main.scrollHeight - main.scrollTop - main.clientHeight < 80;
  }

  function scrollToEnd() {
    const main = list.parentElement;
    main.scrollTop = main.scrollHeight;
  }

  function addMessage(m) {
    if (!m || typeof m.id !== 'string' || shown.has(m.id)) return false;
    const stick = nearBottom();
    const li = renderMessage(m);
    shown.set(m.id, li);
    list.append(li);
    while (shown.size > historyLimit) {
      const [oldest, el] = shown.entries().next().value;
      el.remove();
      shown.delete(oldest);
    }
    empty.hidden = true;
    if (stick) scrollToEnd();
    return true;
  }

  /** One more message kept in Redis (until the list is full). */
  function countNew() {
    if (kept === null) return;
    kept = Math.min(kept + 1, historyLimit);
    renderStatus();
  }

  /** Replaces the list with Redis's history: after a memory-only Redis restart, the loss shows. */
  async function reloadHistory() {
    receivedDuringReload = [];
    try {
      const res = await fetch('/api/messages', { cache: 'no-store' });
      if (!res.ok) throw new Error(await errorText(res));
      const body = await res.json();
      list.replaceChildren();
      shown.clear();
      for (const m of body.messages) addMessage(m);
      for (const m of receivedDuringReload) addMessage(m);
      empty.hidden = shown.size > 0;
      scrollToEnd();
    } catch (err) {
      showNotice('Could not load history: ' + err.message);
    } finally {
      receivedDuringReload = null;
    }
  }

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
      // Every (re)connect: reload history, so nothing sent meanwhile is missed.
      void reloadHistory();
      void refreshStatus();
    };
    es.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      if (receivedDuringReload) receivedDuringReload.push(m);
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

  async function refreshStatus() {
    try {
      const res = await fetch('/api/status', { cache: 'no-store' });
      if (!res.ok) throw new Error(await errorText(res));
      const s = await res.json();
      historyLimit = s.historyLimit || historyLimit;
      redisUp = !!s.redis.connected;
      if (redisUp) {
        ui.mode.textContent = s.redis.persistence === 'aof' ? 'AOF (persistent)' : 'memory-only';
        ui.mode.title = s.redis.persistence === 'aof' ? 'appendonly yes: history survives a Redis restart' : 'no persistence: a Redis restart empties the history';
        uptime = { seconds: s.redis.uptimeSeconds, at: Date.now() };
        kept = s.redis.messages;
      }
    } catch (_) {
      redisUp = false;
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
      const res = await fetch('/api/messages', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ author, text }),
      });
      if (res.status !== 201) throw new Error(await errorText(res));
      hideNotice();
      // Clear only what was sent: text typed while the POST was in flight stays.
      if (textInput.value.trim() === text) textInput.value = '';
      if (addMessage(await res.json())) countNew();
      scrollToEnd();
    } catch (err) {
      // Keep the text so it can be sent again.
      showNotice('Not sent: ' + err.message);
    } finally {
      button.disabled = false;
      textInput.focus();
    }
  });

  authorInput.value = localStorage.getItem('doks-chat-author') || '';
  (authorInput.value ? textInput : authorInput).focus();
  renderStatus();
  connectFeed();
  void refreshStatus();
  setInterval(refreshStatus, STATUS_EVERY_MS);
  setInterval(renderStatus, 1000);
})();
