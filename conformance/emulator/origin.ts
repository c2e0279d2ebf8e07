/**
 * Sentry's `is_valid_origin` (src/sentry/utils/http.py): empty allow-list → false; `*` → any;
 * case-insensitive; an entry without scheme matches any scheme; without port any port;
 * `*.domain.com` matches subdomains; `host:*` any port; the origin "null" is rejected.
 *
 * @example
 * isValidOrigin('https://docs.sentry.io', ['docs.sentry.io']); // true
 */
export function isValidOrigin(origin: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return false;
  if (allowed.includes('*')) return true;
  const value = origin.toLowerCase();
  if (value === 'null') return false;
  const parsed = split(value);
  if (!parsed) return false;
  for (const entry of allowed) {
    const rule = split(entry.trim().toLowerCase());
    if (!rule) continue;
    if (rule.scheme && rule.scheme !== parsed.scheme) continue;
    if (rule.port && rule.port !== '*' && rule.port !== parsed.port) continue;
    const hostOk = rule.host === parsed.host ||
      (rule.host.startsWith('*.') && (parsed.host.endsWith(rule.host.slice(1)) || parsed.host === rule.host.slice(2))) ||
      rule.host === '*';
    if (hostOk) return true;
  }
  return false;
}

function split(value: string): { scheme?: string; host: string; port?: string } | undefined {
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/:]+)(?::(\d+|\*))?\/?$/.exec(value);
  if (!m) return undefined;
  const out: { scheme?: string; host: string; port?: string } = { host: m[2] as string };
  if (m[1]) out.scheme = m[1];
  if (m[3]) out.port = m[3];
  return out;
}
