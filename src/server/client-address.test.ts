import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { clientAddress, clientKey, inRange, parseTrustProxy, type TrustProxy } from './client-address.ts';

describe('client address', () => {
  it('parseTrustProxy: none, loopback, addresses (IPv4-mapped ones as IPv4); anything else names the entry', () => {
    assert.deepEqual(parseTrustProxy('none'), { loopback: false, addresses: new Set(), ranges: [] });
    assert.deepEqual(parseTrustProxy('loopback'), { loopback: true, addresses: new Set(), ranges: [] });
    assert.deepEqual(parseTrustProxy(' loopback , 10.0.0.2,::ffff:10.0.0.3, FD00::1 '), { loopback: true, addresses: new Set(['10.0.0.2', '10.0.0.3', 'fd00::1']), ranges: [] });
    assert.deepEqual(parseTrustProxy('172.16.0.0/12, fd00::/8').ranges, ['172.16.0.0/12', 'fd00::/8']);
    for (const bad of ['proxy.example', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/1', 'fd00::/129', 'x/8', '::ffff:10.0.0.0/104']) {
      assert.throws(() => parseTrustProxy(bad), new RegExp(`got ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), bad);
    }
    assert.throws(() => parseTrustProxy('none,10.0.0.2'), /got "none"/);
    assert.throws(() => parseTrustProxy(' , '), /got nothing/);
  });

  it('inRange: CIDR membership by family; IPv4-mapped counts as IPv4', () => {
    assert.equal(inRange('172.31.255.255', '172.16.0.0/12'), true);
    assert.equal(inRange('172.32.0.0', '172.16.0.0/12'), false);
    assert.equal(inRange('::ffff:172.16.0.1', '172.16.0.0/12'), true);
    assert.equal(inRange('10.1.2.3', '0.0.0.0/0'), true);
    assert.equal(inRange('10.1.2.3', '10.1.2.3/32'), true);
    assert.equal(inRange('10.1.2.4', '10.1.2.3/32'), false);
    assert.equal(inRange('fd12:3456::1', 'fd00::/8'), true);
    assert.equal(inRange('fe80::1', 'fd00::/8'), false);
    assert.equal(inRange('10.0.0.1', 'fd00::/8'), false, 'another family');
    assert.equal(inRange('', '10.0.0.0/8'), false);
    assert.equal(inRange('1.2.3.4', '10.0.0.0'), false, 'not a range: no match (it used to read as /0)');
  });

  it('clientKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 as its /64 (zone dropped)', () => {
    assert.equal(clientKey('198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey('::FFFF:198.51.100.7'), '198.51.100.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:DB8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientKey(''), '');
  });

  describe('clientAddress over a real socket', () => {
    let trust: TrustProxy = parseTrustProxy('loopback');
    const server = createServer((req, res) => res.end(clientAddress(req, trust)));
    let url = '';
    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const seen = async (forwardedFor?: string | string[]) => {
      const res = await request(url, forwardedFor === undefined ? {} : { headers: { 'x-forwarded-for': forwardedFor } });
      return res.body.text();
    };

    it('a trusted (loopback) proxy: the last X-Forwarded-For entry, the one the proxy added', async () => {
      trust = parseTrustProxy('loopback');
      assert.equal(await seen(), '127.0.0.1');
      assert.equal(await seen('203.0.113.9'), '203.0.113.9');
      assert.equal(await seen('6.6.6.6, 203.0.113.9'), '203.0.113.9', 'entries to the left are the client\'s own claims');
      assert.equal(await seen(['6.6.6.6', '2001:db8::7']), '2001:db8::7', 'repeated headers are one list');
      assert.equal(await seen('not-an-address'), '127.0.0.1', 'garbage: the peer');
      assert.equal(await seen(''), '127.0.0.1');
    });

    it('an untrusted peer: X-Forwarded-For is ignored', async () => {
      trust = parseTrustProxy('none');
      assert.equal(await seen('203.0.113.9'), '127.0.0.1');
      trust = parseTrustProxy('10.0.0.2');
      assert.equal(await seen('203.0.113.9'), '127.0.0.1');
      trust = parseTrustProxy('127.0.0.1');
      assert.equal(await seen('203.0.113.9'), '203.0.113.9', 'a listed address is trusted');
      trust = parseTrustProxy('127.0.0.0/8');
      assert.equal(await seen('203.0.113.9'), '203.0.113.9', 'an address in a listed range is trusted');
      trust = parseTrustProxy('10.0.0.0/8');
      assert.equal(await seen('203.0.113.9'), '127.0.0.1', 'outside the range: not trusted');
    });
  });
});
