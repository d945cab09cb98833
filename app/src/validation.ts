import { z } from 'zod';
import { HttpError, NOT_AN_OBJECT } from './errors';
import type { NewMessage } from './chat-store';

export const MAX_AUTHOR = 40;
export const MAX_TEXT = 500;

function field(name: string, max: number) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? `${name} is required` : `${name} must be a string`) })
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(max, { error: `${name} must be at most ${max} characters` });
}

/** A new message as posted: both fields trimmed, neither empty nor too long; unknown fields dropped. */
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

/** `?limit=N`: absent means the whole kept history; more than that is clamped to it. */
export function parseLimit(raw: unknown, historyLimit: number): number {
  if (raw === undefined) return historyLimit;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw) || Number(raw) < 1) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${historyLimit}`);
  }
  return Math.min(Number(raw), historyLimit);
}
