/**
 * Is a URL one Sentry can reach on the public internet over TLS? Reviewers reject http, localhost and
 * private addresses; Sentry's own outbound requests refuse private ranges (its `safe_urlopen` blocklist).
 */

/** Why an address is not public, or undefined when it is. @example privateIpv4Reason('10.1.2.3') // 'private (10.0.0.0/8)' */
export function privateIpv4Reason(host: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (!m) return undefined;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (a === 0) return 'the unspecified/"this network" range (0.0.0.0/8)';
  if (a === 10) return 'private (10.0.0.0/8)';
  if (a === 127) return 'loopback (127.0.0.0/8)';
  if (a === 169 && b === 254) return 'link-local (169.254.0.0/16)';
  if (a === 172 && b >= 16 && b <= 31) return 'private (172.16.0.0/12)';
  if (a === 192 && b === 168) return 'private (192.168.0.0/16)';
  if (a === 100 && b >= 64 && b <= 127) return 'carrier-grade NAT (100.64.0.0/10)';
  if (a === 192 && b === 0 && c === 0) return 'IETF protocol assignments (192.0.0.0/24)';
  if (a === 198 && (b === 18 || b === 19)) return 'benchmarking (198.18.0.0/15)';
  // Documentation ranges (RFC 5737) are never routed, like IPv6's 2001:db8::/32 below.
  if (a === 192 && b === 0 && c === 2) return 'documentation (192.0.2.0/24)';
  if (a === 198 && b === 51 && c === 100) return 'documentation (198.51.100.0/24)';
  if (a === 203 && b === 0 && c === 113) return 'documentation (203.0.113.0/24)';
  if (a >= 224) return 'multicast or reserved (224.0.0.0/3)';
  return undefined;
}

/**
 * The eight 16-bit groups of an IPv6 literal (without brackets or zone), a trailing dotted IPv4 part
 * included; undefined when it is not one.
 * @example ipv6Groups('::ffff:10.0.0.1') // [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]
 */
export function ipv6Groups(host: string): number[] | undefined {
  let text = host;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const parts = v4[1]!.split('.').map(Number);
    tail = [(parts[0]! << 8) | parts[1]!, (parts[2]! << 8) | parts[3]!];
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return undefined;
  if (tail.length) groups.splice(6, 2, ...tail);
  return groups;
}

/** Two 16-bit IPv6 groups as a dotted IPv4 address. */
const dotted = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** Why an IPv6 literal (without brackets) is not public. @example privateIpv6Reason('fe80::1') // 'link-local (fe80::/10)' */
export function privateIpv6Reason(host: string): string | undefined {
  const g = ipv6Groups(host);
  if (!g) return undefined;
  if (g.every((v) => v === 0)) return 'the unspecified address (::)';
  if (g.slice(0, 7).every((v) => v === 0) && g[7] === 1) return 'loopback (::1)';
  if (g.slice(0, 5).every((v) => v === 0) && g[5] === 0xffff) {
    const reason = privateIpv4Reason(dotted(g[6]!, g[7]!));
    return reason ? `an IPv4-mapped ${reason} address` : undefined;
  }
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique local (fc00::/7)';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local (fe80::/10)';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast (ff00::/8)';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation (2001:db8::/32)';
  return undefined;
}

/**
 * A non-public IPv4 address carried inside an IPv6 literal by a translation scheme (NAT64 64:ff9b::/96,
 * 6to4 2002::/16, IPv4-translated ::ffff:0:0/96): a gateway would turn it into that IPv4 address. Whether
 * Sentry's outbound blocklist (`SENTRY_DISALLOWED_IPS`) refuses these is UNCONFIRMED, so they are warnings.
 * @example embeddedIpv4Reason('64:ff9b::a00:1') // 'NAT64 (64:ff9b::/96) for 10.0.0.1, private (10.0.0.0/8)'
 */
export function embeddedIpv4Reason(host: string): string | undefined {
  const g = ipv6Groups(host);
  if (!g) return undefined;
  let scheme: string | undefined;
  let v4: string | undefined;
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((v) => v === 0)) [scheme, v4] = ['NAT64 (64:ff9b::/96)', dotted(g[6]!, g[7]!)];
  else if (g[0] === 0x2002) [scheme, v4] = ['6to4 (2002::/16)', dotted(g[1]!, g[2]!)];
  else if (g.slice(0, 4).every((v) => v === 0) && g[4] === 0xffff && g[5] === 0) [scheme, v4] = ['IPv4-translated (::ffff:0:0/96)', dotted(g[6]!, g[7]!)];
  const reason = v4 === undefined ? undefined : privateIpv4Reason(v4);
  return reason ? `${scheme} for ${v4}, ${reason}` : undefined;
}

/** A problem with a URL Sentry must call or send users to. */
export interface UrlProblem {
  severity: 'error' | 'warning';
  code: string;
  message: string;
}

/**
 * Checks that a URL is https and names a public host. WHATWG parsing normalises odd IPv4 spellings
 * (`http://0x7f.1/` → 127.0.0.1), so they cannot slip past.
 * @example checkPublicHttpsUrl('http://localhost:3000/hook') // [{ code: 'url-not-https', … }, { code: 'url-not-public', … }]
 */
export function checkPublicHttpsUrl(value: string): UrlProblem[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [{ severity: 'error', code: 'url-invalid', message: `"${value}" is not an absolute URL` }];
  }
  const out: UrlProblem[] = [];
  if (url.protocol !== 'https:') {
    out.push({ severity: 'error', code: 'url-not-https', message: `uses ${url.protocol.replace(':', '')}; published integrations must use https` });
  }
  if (url.username || url.password) {
    out.push({ severity: 'error', code: 'url-credentials', message: 'contains credentials (user:password@); never put secrets in the URL' });
  }
  // A trailing dot names the same host (fully qualified): "localhost." is still loopback.
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const reason = host === 'localhost' || host.endsWith('.localhost')
    ? 'localhost'
    : host.startsWith('[') ? privateIpv6Reason(bare) : privateIpv4Reason(bare);
  const embedded = !reason && host.startsWith('[') ? embeddedIpv4Reason(bare) : undefined;
  if (reason) {
    out.push({ severity: 'error', code: 'url-not-public', message: `host ${url.hostname} is ${reason}; Sentry cannot reach it from the internet` });
  } else if (embedded) {
    out.push({ severity: 'warning', code: 'url-not-public', message: `host ${url.hostname} embeds a non-public IPv4 address: ${embedded}; a gateway would send Sentry's requests there (whether Sentry refuses it is unconfirmed)` });
  } else if (!host.startsWith('[') && !/^\d+\.\d+\.\d+\.\d+$/.test(host) && (!host.includes('.') || /\.(local|internal|lan|home|corp|test|example|invalid)$/.test(host))) {
    out.push({ severity: 'warning', code: 'url-not-public', message: `host ${url.hostname} does not look publicly resolvable` });
  }
  return out;
}
