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
}

/**
 * Parses TRUST_PROXY: `none`, `loopback`, or a comma-separated list of IP addresses that may include
 * `loopback`. Throws an Error naming the bad entry.
 *
 * @example
 * parseTrustProxy('loopback, 10.0.0.2'); // { loopback: true, addresses: Set { '10.0.0.2' } }
 */
export function parseTrustProxy(value: string): TrustProxy {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 1 && entries[0] === 'none') return { loopback: false, addresses: new Set() };
  const addresses = new Set<string>();
  let loopback = false;
  for (const entry of entries) {
    if (entry === 'loopback') loopback = true;
    else if (isIP(entry)) addresses.add(exactKey(entry));
    else throw new Error(`expected none, loopback or IP addresses, got ${JSON.stringify(entry)}`);
  }
  if (!loopback && addresses.size === 0) throw new Error('expected none, loopback or IP addresses, got nothing');
  return { loopback, addresses };
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
  if (!peer || !(trust.loopback && isLoopback(peer)) && !trust.addresses.has(exactKey(peer))) return peer;
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
