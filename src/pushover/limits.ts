/**
 * Pushover's documented limits and the one time rule both the adapter and the emulator need.
 * Text limits are counted in Unicode code points ("4-byte UTF-8 characters", pushover-api.md §7.2).
 */

/** Field limits in code points (pushover-api.md §3). */
export const PUSHOVER_LIMITS = {
  title: 250,
  message: 1024,
  url: 512,
  url_title: 100,
} as const;

/** Largest attachment, in bytes (5.0 MB). */
export const PUSHOVER_MAX_ATTACHMENT_BYTES = 5_242_880;
/** Emergency (priority 2) bounds: retry at least 30 s, expire at most 3 h. */
export const PUSHOVER_MIN_RETRY_S = 30;
export const PUSHOVER_MAX_EXPIRE_S = 10_800;
/** Recipients per request (comma-separated user keys). */
export const PUSHOVER_MAX_USERS = 50;

/** App tokens and user/group keys: exactly 30 characters of [A-Za-z0-9]. */
export const PUSHOVER_KEY_PATTERN = /^[A-Za-z0-9]{30}$/;
/** Device names: 1–25 characters of [A-Za-z0-9_-]. */
export const PUSHOVER_DEVICE_PATTERN = /^[A-Za-z0-9_-]{1,25}$/;

/**
 * Number of Unicode code points in `text` (an emoji counts 1, unlike `text.length`).
 *
 * @example
 * codePointLength('a😀'); // 2
 */
export function codePointLength(text: string): number {
  let n = text.length;
  // Each well-formed surrogate pair is two UTF-16 units but one code point.
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * The UTF-16 index just after the first `count` code points of `text` (or its length).
 *
 * @example
 * codePointOffset('😀a', 1); // 2
 */
export function codePointOffset(text: string, count: number): number {
  let i = 0;
  for (let n = 0; n < count && i < text.length; n++) {
    const c = text.charCodeAt(i);
    const d = text.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return i;
}

const chicagoParts = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/Chicago',
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  hourCycle: 'h23',
});

function chicagoDate(ms: number): { year: number; month: number; day: number; hour: number } {
  const parts: Record<string, number> = {};
  for (const p of chicagoParts.formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hour: parts.hour ?? 0 };
}

/**
 * The instant (ms since epoch) of the next quota reset after `nowMs`: 00:00 America/Chicago on the
 * 1st of the next month, DST-aware (CST = UTC−6, CDT = UTC−5). Pushover documents the reset in
 * Central Time; the adapter uses this only when a 429 carries no `X-Limit-App-Reset`.
 *
 * @example
 * new Date(nextQuotaReset(Date.parse('2018-08-15T00:00:00Z'))).toISOString(); // '2018-09-01T05:00:00.000Z'
 */
export function nextQuotaReset(nowMs: number): number {
  const local = chicagoDate(nowMs);
  const year = local.month === 12 ? local.year + 1 : local.year;
  const month = local.month === 12 ? 1 : local.month + 1;
  const midnightUtc = Date.UTC(year, month - 1, 1);
  // Central midnight is 05:00 or 06:00 UTC; pick the one that reads as 00:00 on the 1st in Chicago.
  for (const offsetHours of [5, 6]) {
    const candidate = midnightUtc + offsetHours * 3_600_000;
    const c = chicagoDate(candidate);
    if (c.day === 1 && c.hour === 0) return candidate;
  }
  return midnightUtc + 6 * 3_600_000;
}
