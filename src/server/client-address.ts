/**
 * Who sent a request, for per-client limits (/setup's SETUP_FAILURE_LIMIT): the peer address, or the
 * address a trusted reverse proxy put last in `X-Forwarded-For`, reduced to a key that one client
 * cannot multiply: an IPv4-mapped IPv6 address counts as its IPv4 address, and an IPv6 address as its
 * /64 (one host commonly holds a whole /64, so single addresses would be free to rotate through).
 *
 * @example
 * const trust = parseTrustProxy('loopback');
 * clientKey(clientAddress(req, trust)); // '203.0.113.7' or '2001:db8:1:2::/64'
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ipv6Groups } from '../publication/address.ts';

/** Which peers are reverse proxies whose `X-Forwarded-For` is believed. */
export interface TrustProxy {
  loopback: boolean;
  /** Further proxy addresses, as keys ({@link clientKey} of each, so `::ffff:10.0.0.2` matches 10.0.0.2). */
  addresses: ReadonlySet<string>;
  /** Proxy ranges in CIDR notation (a cloud load balancer's subnet), as written. */
  ranges: readonly string[];
}

/** An address as a number of its family's width (32 or 128 bits); undefined when it is not an IP literal. */
function addressBits(address: string): { width: 32 | 128; value: bigint } | undefined {
  const key = exactKey(address);
  if (isIP(key) === 4) return { width: 32, value: key.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n) };
  const groups = isIP(key) === 6 ? ipv6Groups(key) : undefined;
  return groups ? { width: 128, value: groups.reduce((n, g) => (n << 16n) | BigInt(g), 0n) } : undefined;
}

/** Whether `address` lies in `range` (`10.0.0.0/8`, `fd00::/8`); an IPv4-mapped address counts as IPv4. */
export function inRange(address: string, range: string): boolean {
  if (!isRange(range)) return false;
  const [base = '', bitsText = ''] = range.split('/');
  const a = addressBits(address);
  const b = addressBits(base);
  const bits = Number(bitsText);
  if (!a || !b || a.width !== b.width) return false;
  const shift = BigInt(a.width - bits);
  return a.value >> shift === b.value >> shift;
}

function isRange(entry: string): boolean {
  const [base = '', bits, extra] = entry.split('/');
  // An IPv4-mapped base (::ffff:10.0.0.0/104) is refused: write the IPv4 range (10.0.0.0/8) instead.
  const width = isIP(base) === 4 ? 32 : isIP(base) === 6 && !exactKey(base).includes('.') ? 128 : 0;
  return extra === undefined && width > 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= width;
}

/**
 * Parses TRUST_PROXY: `none`, `loopback`, or a comma-separated list of IP addresses and CIDR ranges
 * that may include `loopback`. Throws an Error naming the bad entry.
 *
 * @example
 * parseTrustProxy('loopback, 10.0.0.2, 172.16.0.0/12'); // { loopback: true, addresses: Set { '10.0.0.2' }, ranges: ['172.16.0.0/12'] }
 */
export function parseTrustProxy(value: string): TrustProxy {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 1 && entries[0] === 'none') return { loopback: false, addresses: new Set(), ranges: [] };
  const addresses = new Set<string>();
  const ranges: string[] = [];
  let loopback = false;
  for (const entry of entries) {
    if (entry === 'loopback') loopback = true;
    else if (isIP(entry)) addresses.add(exactKey(entry));
    else if (isRange(entry)) ranges.push(entry);
    else throw new Error(`expected none, loopback, IP addresses or CIDR ranges, got ${JSON.stringify(entry)}`);
  }
  if (!loopback && addresses.size === 0 && ranges.length === 0) throw new Error('expected none, loopback, IP addresses or CIDR ranges, got nothing');
  return { loopback, addresses, ranges };
}

/** An address with any zone dropped and an IPv4-mapped IPv6 address as its IPv4 form. */
function exactKey(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1]! : bare.toLowerCase();
}

function isLoopback(address: string): boolean {
  const key = exactKey(address);
  return key.startsWith('127.') || key === '::1';
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy and sent `X-Forwarded-For`,
 * whose last entry is the address that proxy saw (entries further left are the client's own claims).
 * '' when the socket has no peer address any more.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  const peer = req.socket.remoteAddress ?? '';
  const trusted = (trust.loopback && isLoopback(peer)) || trust.addresses.has(exactKey(peer)) || trust.ranges.some((r) => inRange(peer, r));
  if (!peer || !trusted) return peer;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const last = forwarded.at(-1);
  return last && isIP(last.replace(/%.*$/, '')) ? last : peer;
}

/**
 * The limit key of an address: IPv4 as it is (also when IPv4-mapped), IPv6 as its /64.
 *
 * @example
 * clientKey('::ffff:192.0.2.1'); // '192.0.2.1'
 * clientKey('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 */
export function clientKey(address: string): string {
  const key = exactKey(address);
  if (!key.includes(':')) return key;
  const groups = ipv6Groups(key);
  return groups ? `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64` : key;
}
