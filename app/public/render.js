// How messages and lines look: DOM elements from data. User text only ever goes into
// the DOM through textContent; a name is bidi-isolated (<bdi>), so a right-to-left
// override in it cannot reorder what follows it.

/** A message's card. */
export function renderMessage(m) {
  const li = document.createElement('li');
  li.className = 'message';
  li.dataset.id = m.id;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const author = document.createElement('bdi');
  author.className = 'author';
  author.textContent = m.author;
  const time = document.createElement('time');
  time.dateTime = m.at;
  const at = new Date(m.at);
  time.textContent = isNaN(at.getTime()) ? '' : at.toLocaleTimeString();
  meta.append(author, time);
  if (m.replica) {
    const via = document.createElement('span');
    via.className = 'replica';
    via.textContent = 'via ' + m.replica;
    meta.append(via);
  }
  const text = document.createElement('p');
  text.className = 'text';
  text.dir = 'auto';
  text.textContent = m.text;
  li.append(meta, text);
  return li;
}

const LOST_TITLE =
  'No longer stored: Redis restarted without it. Only this page still shows it; a reload shows what the server has.';

/** Greys a card the server no longer has (it stays, and says so), or makes it plain again. */
export function setLost(li, lost) {
  if (li.classList.contains('lost') === lost) return;
  li.classList.toggle('lost', lost);
  if (lost) {
    li.title = LOST_TITLE;
    const mark = document.createElement('span');
    mark.className = 'lost-mark';
    mark.textContent = 'no longer stored';
    li.querySelector('.meta').append(mark);
  } else {
    li.removeAttribute('title');
    li.querySelector('.lost-mark')?.remove();
  }
}

/**
 * The line a restart leaves in the conversation: "Redis restarted at 15:02" (Redis's
 * uptime, read with the history, back from when it was read) and what it kept.
 * @param {{ outcome: string }} line
 * @param {Date} startedAt
 * @param {string} words what follows the time
 */
export function renderLine(line, startedAt, words) {
  const li = document.createElement('li');
  li.className = 'event';
  li.dataset.event = 'redis-restart';
  li.dataset.outcome = line.outcome;
  li.setAttribute('role', 'status');
  const time = document.createElement('time');
  time.dateTime = startedAt.toISOString();
  time.title = startedAt.toLocaleString();
  time.textContent = startedAt.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  li.append('Redis restarted at ', time, words);
  return li;
}

export function formatDuration(total) {
  const s = Math.max(0, Math.floor(total));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return d + 'd ' + h + 'h';
  if (h) return h + 'h ' + m + 'm';
  if (m) return m + 'm ' + (s % 60) + 's';
  return s + 's';
}
