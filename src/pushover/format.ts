import { codePointLength, codePointOffset, PUSHOVER_LIMITS } from './limits.ts';
import { priorityForLevel, type LevelPriorities, type PushoverMessage } from './types.ts';

/** The fields of a Sentry issue (API `GET …/issues/{id}/` or webhook `data.issue`) the notification uses. */
export interface SentryIssueLike {
  title?: string;
  shortId?: string;
  culprit?: string | null;
  level?: string;
  /** Sentry sends the event count as a string. */
  count?: string | number;
  firstSeen?: string;
  /** The issue's web URL. */
  permalink?: string;
  web_url?: string;
  project?: { slug?: string; name?: string };
}

/** Options for {@link formatIssueNotification}. */
export interface FormatOptions {
  /** Pushover HTML mode: values are escaped, labels bold, and the message is sent with `html=1`. */
  html?: boolean;
  /** Priority per Sentry level (missing entries use the defaults). */
  priorities?: Partial<LevelPriorities>;
  /** Project name for the title; default the issue's project slug, then its name. */
  project?: string;
  /** Web URL override; default `issue.permalink`, then `issue.web_url`. */
  url?: string;
  /** Comma-separated Pushover tags (the worker's dedupe key). */
  tags?: string;
}

const ELLIPSIS = '\u2026';
/** Code points either side of a cut handed to the grapheme segmenter. */
const GRAPHEME_WINDOW = 32;
const segmenter: Intl.Segmenter | undefined =
  typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : undefined;

/**
 * Cuts `text` to at most `max` Unicode code points. When it is too long, keeps `max − 1` code points
 * and appends `…`, backing off to a grapheme boundary so no surrogate pair, emoji ZWJ sequence or
 * base + combining mark is split. With `{ html: true }` it also never ends inside an entity or tag.
 *
 * @example
 * truncateCodePoints('héllo wörld', 6); // 'héllo…'
 * truncateCodePoints('ab😀c', 3);       // 'ab…'  (never half an emoji)
 */
export function truncateCodePoints(text: string, max: number, options: { html?: boolean } = {}): string {
  if (max <= 0) return '';
  if (codePointLength(text) <= max) return text;
  if (max === 1) return ELLIPSIS;
  const budget = max - 1;
  let cut = codePointOffset(text, budget); // UTF-16 index of a code-point cut
  if (segmenter) {
    // Only the graphemes near the cut matter: segment a window around it (cheap for long text).
    const start = codePointOffset(text, Math.max(0, budget - GRAPHEME_WINDOW));
    const window = text.slice(start, cut + 2 * GRAPHEME_WINDOW);
    let offset = start;
    let best = start;
    for (const { segment } of segmenter.segment(window)) {
      if (offset + segment.length > cut) break;
      offset += segment.length;
      best = offset;
    }
    // best = start with start 0: one grapheme longer than the room (e.g. "zalgo" text): keep the code-point cut.
    if (best > 0) cut = best;
  }
  let kept = text.slice(0, cut);
  if (options.html) kept = dropPartialMarkup(kept);
  return kept + ELLIPSIS;
}

/** Removes a trailing `&…` without `;` or `<…` without `>` left by a cut. */
function dropPartialMarkup(text: string): string {
  const amp = text.lastIndexOf('&');
  if (amp !== -1 && !text.includes(';', amp)) text = text.slice(0, amp);
  const lt = text.lastIndexOf('<');
  if (lt !== -1 && !text.includes('>', lt)) text = text.slice(0, lt);
  return text;
}

/**
 * Escapes text for Pushover's HTML mode (`&`, `<`, `>`, `"`).
 *
 * @example
 * escapeHtml('a < b & "c"'); // 'a &lt; b &amp; &quot;c&quot;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

function formatFirstSeen(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Builds the Pushover message for a Sentry issue: title `[project] issue title`; a body with level,
 * culprit, event count, first seen and short id; `url` = the issue's web URL with `url_title`
 * "Open in Sentry". Every field fits Pushover's code-point limits: text is cut with an ellipsis on a
 * grapheme boundary (the culprit gives way first), a URL is never cut — one longer than 512 code
 * points moves into the body, or is left out if even that cannot hold it — and the body is never empty.
 *
 * @example
 * const msg = formatIssueNotification(
 *   { title: 'TypeError: x is undefined', project: { slug: 'api' }, level: 'error', count: '3',
 *     shortId: 'API-1', permalink: 'https://acme.sentry.io/issues/1/' },
 *   { tags: 'sik-0123abcd' },
 * );
 * // msg.title === '[api] TypeError: x is undefined', msg.url_title === 'Open in Sentry'
 */
export function formatIssueNotification(issue: SentryIssueLike, options: FormatOptions = {}): PushoverMessage {
  const html = options.html === true;
  const esc = html ? escapeHtml : (s: string) => s;
  const label = (name: string) => (html ? `<b>${name}:</b> ` : `${name}: `);

  const project = options.project ?? issue.project?.slug ?? issue.project?.name;
  const issueTitle = issue.title?.trim() || '(untitled issue)';
  const title = truncateCodePoints(project ? `[${project}] ${issueTitle}` : issueTitle, PUSHOVER_LIMITS.title);

  const url = (options.url ?? issue.permalink ?? issue.web_url)?.trim() || undefined;
  const urlFits = url !== undefined && codePointLength(url) <= PUSHOVER_LIMITS.url;

  const fixed: string[] = [`${label('Level')}${esc(issue.level ?? 'unknown')}`];
  if (issue.count !== undefined && issue.count !== '') fixed.push(`${label('Events')}${esc(String(issue.count))}`);
  const firstSeen = formatFirstSeen(issue.firstSeen);
  if (firstSeen) fixed.push(`${label('First seen')}${esc(firstSeen)}`);
  if (issue.shortId) fixed.push(`${label('Short ID')}${esc(issue.shortId)}`);

  const max = PUSHOVER_LIMITS.message;
  const size = (lines: string[]) => codePointLength(lines.join('\n'));
  if (url && !urlFits) {
    const linkLine = `${label('Link')}${esc(url)}`;
    if (size([...fixed, linkLine]) <= max) fixed.push(linkLine);
  }

  const culprit = issue.culprit?.trim();
  const lines = [...fixed];
  if (culprit) {
    const prefix = label('Culprit');
    // What is left for the culprit once every other line (and one more newline) is counted.
    const room = max - size(fixed) - 1 - codePointLength(prefix);
    if (room >= 8) lines.splice(1, 0, prefix + truncateCodePoints(esc(culprit), room, { html }));
  }
  const message = truncateCodePoints(lines.join('\n'), max, { html });

  const out: PushoverMessage = {
    title,
    message: message.trim() === '' ? '(no details)' : message,
    priority: priorityForLevel(issue.level, options.priorities),
    level: issue.level,
  };
  if (urlFits && url) {
    out.url = url;
    out.url_title = 'Open in Sentry';
  }
  if (html) out.html = true;
  if (options.tags) out.tags = options.tags;
  return out;
}

/**
 * Makes any message safe to send: title, message and url_title cut to their code-point limits
 * (ellipsis, grapheme boundary), a URL over 512 code points never cut but moved into the body when it
 * fits there (else left out), `url_title` only with a `url`, and an empty body replaced by
 * `(no details)`. Returns a new message and what it changed (for a warning log).
 *
 * @example
 * const { message, changed } = fitToLimits({ message: '', title: 'x'.repeat(300) });
 * // message.message === '(no details)', changed === ['message', 'title']
 */
export function fitToLimits(input: PushoverMessage): { message: PushoverMessage; changed: string[] } {
  const out: PushoverMessage = { ...input };
  const changed: string[] = [];
  const html = input.html === true;
  if (out.url !== undefined && codePointLength(out.url) > PUSHOVER_LIMITS.url) {
    const link = html ? escapeHtml(out.url) : out.url;
    const withLink = `${out.message}\n${link}`;
    if (codePointLength(withLink) <= PUSHOVER_LIMITS.message) out.message = withLink;
    delete out.url;
    changed.push('url');
  }
  if (out.url === undefined && out.url_title !== undefined) delete out.url_title;
  if (out.message.trim() === '') {
    out.message = '(no details)';
    changed.push('message');
  }
  const cut = (field: 'message' | 'title' | 'url_title', asHtml: boolean) => {
    const value = out[field];
    if (value === undefined) return;
    const fitted = truncateCodePoints(value, PUSHOVER_LIMITS[field], { html: asHtml });
    if (fitted !== value) {
      out[field] = fitted;
      changed.push(field);
    }
  };
  cut('message', html);
  cut('title', false);
  cut('url_title', false);
  return { message: out, changed };
}
