import { z } from 'zod';

/**
 * Size and character limits on what reviewers type: labels, tags, reviewer names. They keep the
 * catalog and every export (file names of an imagefolder, CSV cells, JSON keys) sane, and a
 * request that breaks one gets a 400 naming the field and the limit. The app's inputs carry the
 * same limits as `maxlength`.
 */
export const LIMITS = {
  /** A relabel's new label. */
  label: 200,
  /** One tag name. */
  tag: 64,
  /** Tags added or removed by one request. */
  tagsPerRequest: 32,
  /** A reviewer name. */
  reviewer: 100,
} as const;

/** Control, format, surrogate, private-use and unassigned code points: nothing a person types. */
const NOT_PRINTABLE = /\p{C}/u;

/** Whether every character of `s` is printable (letters, digits, punctuation, symbols, spaces). */
export function isPrintable(s: string): boolean {
  return !NOT_PRINTABLE.test(s);
}

/** The first unprintable character of `s`, as U+XXXX, for error messages. */
function firstUnprintable(s: string): string {
  const m = NOT_PRINTABLE.exec(s);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : '';
}

/** A non-blank, printable string of at most `max` characters, with messages that say which rule broke. */
export function boundedText(what: string, max: number): z.ZodType<string> {
  return z.string().superRefine((s, ctx) => {
    if (s.trim() === '') ctx.addIssue({ code: 'custom', message: `${what} is empty` });
    else if ([...s].length > max) ctx.addIssue({ code: 'custom', message: `${what} is ${[...s].length} characters long; the limit is ${max}` });
    else if (!isPrintable(s)) ctx.addIssue({ code: 'custom', message: `${what} contains a character that is not printable (${firstUnprintable(s)})` });
  });
}

/** A list of tag names as one request may carry. */
export const TagList = z
  .array(boundedText('a tag', LIMITS.tag))
  .max(LIMITS.tagsPerRequest, `at most ${LIMITS.tagsPerRequest} tags per request`);
