/**
 * Region base URLs (data residency). Sentry keeps org data (issues, events) in region cells such as
 * `https://de.sentry.io`; the control host (`sentry.io`) proxies org-scoped paths, but the region host
 * is the recommended base. Installation webhooks and token answers carry no region, so the server
 * reads `links.regionUrl` from `GET /api/0/organizations/{org}/` once the install is complete
 * (sentry-platform.md §6).
 *
 * The bearer token is sent to whatever host this names, so only absolute http(s) URLs without
 * credentials, query or fragment are accepted. A host different from SENTRY_URL's is expected
 * (de.sentry.io vs sentry.io) and is not refused.
 *
 * @example
 * checkRegionUrl('https://de.sentry.io/');   // { ok: true, url: 'https://de.sentry.io' }
 * checkRegionUrl('javascript:alert(1)');     // { ok: false, reason: 'scheme javascript: is not http(s)' }
 */

/** The outcome of {@link checkRegionUrl}. */
export type RegionUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Validates and normalises a `links.regionUrl` value: http(s) only, no credentials, query or
 * fragment; the trailing slash is trimmed so paths can be appended.
 *
 * @example
 * checkRegionUrl('https://us.sentry.io'); // { ok: true, url: 'https://us.sentry.io' }
 */
export function checkRegionUrl(value: unknown): RegionUrlCheck {
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, reason: 'not a non-empty string' };
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { ok: false, reason: `scheme ${parsed.protocol} is not http(s)` };
  if (parsed.username || parsed.password) return { ok: false, reason: 'URL carries credentials' };
  if (parsed.search || parsed.hash || /[?#]/.test(value)) return { ok: false, reason: 'URL carries a query or fragment' };
  return { ok: true, url: `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '') };
}

/**
 * A region URL as it may appear in a log line: at most 200 characters, so a hostile answer cannot
 * flood the log. (Not a secret: it is Sentry's public host name.)
 *
 * @example
 * printableRegionUrl('x'.repeat(500)).length; // 201
 */
export function printableRegionUrl(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Whether the region URL names another host than SENTRY_URL (expected for EU orgs: de.sentry.io).
 *
 * @example
 * isForeignRegion('https://de.sentry.io', 'https://sentry.io'); // true
 */
export function isForeignRegion(regionUrl: string, sentryUrl: string): boolean {
  try {
    return new URL(regionUrl).host !== new URL(sentryUrl).host;
  } catch {
    return true;
  }
}
