import { z } from 'zod';
import { HttpError, NOT_AN_OBJECT } from './errors';
import type { Cursor, NewMessage } from './chat-store';

export const MAX_AUTHOR = 40;
export const MAX_TEXT = 500;

/**
 * What renders as nothing, by Unicode property rather than by a list that misses some:
 * whitespace (White_Space), everything a renderer must not show (Default_Ignorable_Code_Point:
 * zero-width characters and joiners, bidi controls, the BOM, the soft hyphen, the Hangul
 * fillers, the Khmer inherent vowels, the tag characters, ...), variation selectors (which
 * select how the character before them looks, and alone are nothing), and control
 * characters (Cc). One character more: the blank Braille pattern, a symbol drawn as
 * empty space. A field made only of these is empty.
 */
const INVISIBLE = /[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}\p{Cc}\u2800]/gu;

/** Control characters: none in an author; none but the line feed in a text. */
const CONTROLS = { author: /\p{Cc}/u, text: /[^\P{Cc}\n]/u };

function field(name: 'author' | 'text', max: number) {
  const controls = CONTROLS[name];
  return z
    .string({ error: (iss) => (iss.input === undefined ? `${name} is required` : `${name} must be a string`) })
    .trim()
    .refine((v) => !controls.test(v), {
      error:
        name === 'text'
          ? 'text must not contain control characters other than a line break'
          : 'author must not contain control characters',
      abort: true,
    })
    .refine((v) => v.replace(INVISIBLE, '') !== '', { error: `${name} must not be empty` })
    .refine((v) => v.length <= max, { error: `${name} must be at most ${max} characters` });
}

/** A new message as posted: both fields trimmed, neither empty (nor invisible) nor too long; unknown fields dropped. */
export const newMessageSchema = z.object(
  { author: field('author', MAX_AUTHOR), text: field('text', MAX_TEXT) },
  { error: NOT_AN_OBJECT },
);

/** Parses or throws a 400 naming every problem. */
export function parseNewMessage(body: unknown): NewMessage {
  const result = newMessageSchema.safeParse(body);
  if (!result.success) throw new HttpError(400, result.error.issues.map((i) => i.message).join('; '));
  return result.data;
}

/** Most messages in one history page (`?limit=`), whatever HISTORY_LIMIT keeps. */
export const PAGE_MAX_MESSAGES = 100;
/**
 * Most bytes of messages in one history page: a page never grows with HISTORY_LIMIT or
 * message size (100 of the largest messages, 540 characters of 4-byte or escaped
 * characters, would be about 330 KB).
 */
export const PAGE_MAX_BYTES = 128 * 1024;

export interface HistoryQuery {
  limit: number;
  /** The cursor from a previous page's `before`: messages older than it, in the run it was read from. */
  before?: Cursor;
}

const LIMIT_RULE = `limit must be a whole number from 1 to ${PAGE_MAX_MESSAGES}`;
const BEFORE_RULE = 'before must be the "before" cursor of a previous page';
/**
 * A cursor as page() makes it: `<position>.<run id>`. A bare position (the cursors before
 * runs were recorded) names no run: it reads as a cursor from another run.
 */
const CURSOR = /^(\d{1,15})(?:\.([0-9a-f]{1,64}))?$/;

/**
 * `GET /api/messages?limit=N&before=C`. limit: 1 to PAGE_MAX_MESSAGES (default the
 * most), anything else is a 400, never clamped; before: a cursor. A repeated or
 * bracketed parameter, or any other one, is a 400 too: a client's mistake must not be
 * read as something else.
 */
export function parseHistoryQuery(query: Record<string, unknown>): HistoryQuery {
  for (const name of Object.keys(query)) {
    if (name !== 'limit' && name !== 'before')
      throw new HttpError(400, `unknown query parameter "${name.slice(0, 40)}": use limit and before`);
  }
  const { limit, before } = query;
  const parsed: HistoryQuery = { limit: PAGE_MAX_MESSAGES };
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^[1-9]\d{0,2}$/.test(limit) || Number(limit) > PAGE_MAX_MESSAGES)
      throw new HttpError(400, LIMIT_RULE);
    parsed.limit = Number(limit);
  }
  if (before !== undefined) {
    const m = typeof before === 'string' ? CURSOR.exec(before) : null;
    if (!m) throw new HttpError(400, BEFORE_RULE);
    parsed.before = { position: Number(m[1]), runId: m[2] ?? 'none' };
  }
  return parsed;
}

/**
 * The Idempotency-Key request header (IETF draft "The Idempotency-Key HTTP Header
 * Field": a Structured Fields string, so quoted; a bare token is taken too). Undefined
 * when absent.
 */
export function parseIdempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const key = /^"(.*)"$/.exec(raw.trim())?.[1] ?? raw.trim();
  if (!/^[A-Za-z0-9._:-]{8,100}$/.test(key)) {
    throw new HttpError(
      400,
      'Idempotency-Key must be 8 to 100 letters, digits, ".", "_", ":" or "-", in double quotes (e.g. a UUID)',
    );
  }
  return key;
}
