/**
 * Region base URLs (data residency). Sentry keeps org data (issues, events) in region cells such as
 * `https://de.sentry.io`; the control host (`sentry.io`) proxies org-scoped paths, but the region host
 * is the recommended base. Installation webhooks and token answers carry no region, so the server
 * reads `links.regionUrl` from `GET /api/0/organizations/{org}/` once the install is complete
 * (sentry-platform.md §6).
 *
 * The bearer token is sent to whatever host this names, so only absolute http(s) URLs without
 * credentials, query or fragment, on SENTRY_URL's host or a subdomain of it (de.sentry.io under
 * sentry.io), are accepted; https when SENTRY_URL is https.
 *
 * @example
 * checkRegionUrl('https://de.sentry.io/');   // { ok: true, url: 'https://de.sentry.io' }
 * checkRegionUrl('javascript:alert(1)');     // { ok: false, reason: 'scheme javascript: is not http(s)' }
 */

/** The outcome of {@link checkRegionUrl}. */
export type RegionUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Validates and normalises a `links.regionUrl` value: http(s) only, no credentials, query or
 * fragment; the trailing slash is trimmed so paths can be appended. With `sentryUrl` (the API client
 * always passes SENTRY_URL) the host must also be SENTRY_URL's host or a subdomain of it, and https
 * when SENTRY_URL is https: a crafted answer cannot send the token elsewhere.
 *
 * @example
 * checkRegionUrl('https://us.sentry.io'); // { ok: true, url: 'https://us.sentry.io' }
 * checkRegionUrl('https://evil.example', 'https://sentry.io').ok; // false
 */
export function checkRegionUrl(value: unknown, sentryUrl?: string): RegionUrlCheck {
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
  if (sentryUrl !== undefined) {
    // The bearer token goes to this host: only Sentry's own hosts (de.sentry.io under sentry.io, the
    // emulator's region port on its host), never a downgrade to plain http. Refusing costs nothing:
    // SENTRY_URL proxies org-scoped paths to the region.
    let base: URL;
    try {
      base = new URL(sentryUrl);
    } catch {
      return { ok: false, reason: 'SENTRY_URL is not a URL' };
    }
    if (base.protocol === 'https:' && parsed.protocol !== 'https:') return { ok: false, reason: 'plain http while SENTRY_URL is https' };
    if (parsed.hostname !== base.hostname && !parsed.hostname.endsWith(`.${base.hostname}`)) {
      return { ok: false, reason: `host ${parsed.hostname} is neither SENTRY_URL's host (${base.hostname}) nor a subdomain of it` };
    }
  }
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
