import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createSentryApi } from './api.ts';
import { checkRegionUrl, isForeignRegion, printableRegionUrl } from './region.ts';

describe('checkRegionUrl', () => {
  it('accepts http(s) and trims the trailing slash', () => {
    assert.deepEqual(checkRegionUrl('https://de.sentry.io/'), { ok: true, url: 'https://de.sentry.io' });
    assert.deepEqual(checkRegionUrl('http://127.0.0.1:4000'), { ok: true, url: 'http://127.0.0.1:4000' });
    assert.deepEqual(checkRegionUrl('https://sentry.example/cell/'), { ok: true, url: 'https://sentry.example/cell' });
  });
  it('refuses other schemes, credentials, queries, fragments and non-strings', () => {
    for (const [value, reason] of [
      ['javascript:alert(1)', 'scheme javascript: is not http(s)'],
      ['file:///etc/passwd', 'scheme file: is not http(s)'],
      ['ftp://de.sentry.io', 'scheme ftp: is not http(s)'],
      ['https://user:pw@de.sentry.io', 'URL carries credentials'],
      ['https://de.sentry.io/?x=1', 'URL carries a query or fragment'],
      ['https://de.sentry.io/#x', 'URL carries a query or fragment'],
      ['https://de.sentry.io?', 'URL carries a query or fragment'],
      ['de.sentry.io', 'not an absolute URL'],
      ['', 'not a non-empty string'],
      [42, 'not a non-empty string'],
    ] as const) {
      assert.deepEqual(checkRegionUrl(value), { ok: false, reason }, String(value));
    }
  });
  it('with SENTRY_URL: only its host or a subdomain of it, and no https → http downgrade (the token goes there)', () => {
    assert.deepEqual(checkRegionUrl('https://de.sentry.io/', 'https://sentry.io'), { ok: true, url: 'https://de.sentry.io' });
    assert.deepEqual(checkRegionUrl('https://sentry.io', 'https://sentry.io'), { ok: true, url: 'https://sentry.io' });
    assert.deepEqual(checkRegionUrl('http://127.0.0.1:4001', 'http://127.0.0.1:4000'), { ok: true, url: 'http://127.0.0.1:4001' });
    for (const [value, reason] of [
      ['https://evil.example', "host evil.example is neither SENTRY_URL's host (sentry.io) nor a subdomain of it"],
      ['https://sentry.io.evil.example', "host sentry.io.evil.example is neither SENTRY_URL's host (sentry.io) nor a subdomain of it"],
      ['https://evilsentry.io', "host evilsentry.io is neither SENTRY_URL's host (sentry.io) nor a subdomain of it"],
      ['https://169.254.169.254', "host 169.254.169.254 is neither SENTRY_URL's host (sentry.io) nor a subdomain of it"],
      ['http://de.sentry.io', 'plain http while SENTRY_URL is https'],
    ] as const) {
      assert.deepEqual(checkRegionUrl(value, 'https://sentry.io'), { ok: false, reason }, value);
    }
  });
  it('printable form is bounded; foreign means another host', () => {
    assert.equal(printableRegionUrl('x'.repeat(500)).length, 201);
    assert.equal(printableRegionUrl({ a: 1 }), '{"a":1}');
    assert.equal(isForeignRegion('https://de.sentry.io', 'https://sentry.io'), true);
    assert.equal(isForeignRegion('https://sentry.io/', 'https://sentry.io'), false);
  });
});

describe('api: organization regionUrl and the issue base URL', () => {
  const seen: string[] = [];
  let regionUrl: unknown = 'http://127.0.0.1:4000/';
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url?.includes('/issues/') ? { id: '1' } : { slug: 'eu-org', id: 7, links: { regionUrl } }));
  });
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => { await new Promise<void>((resolve) => server.close(() => resolve())); });

  it('returns a checked regionUrl, or regionUrlRefused for a bad one', { timeout: 10_000 }, async () => {
    const api = createSentryApi({ baseUrl: base, clientId: 'id', clientSecret: 's' });
    assert.deepEqual(await api.getOrganization('tok', 'eu-org'), { slug: 'eu-org', id: '7', regionUrl: 'http://127.0.0.1:4000' });
    // A crafted answer naming another host: refused, so the token is never sent there.
    regionUrl = 'https://attacker.example/';
    assert.deepEqual(await api.getOrganization('tok', 'eu-org'), {
      slug: 'eu-org', id: '7',
      regionUrlRefused: { value: 'https://attacker.example/', reason: "host attacker.example is neither SENTRY_URL's host (127.0.0.1) nor a subdomain of it" },
    });
    regionUrl = 'data:text/plain,x';
    assert.deepEqual(await api.getOrganization('tok', 'eu-org'), {
      slug: 'eu-org', id: '7', regionUrlRefused: { value: 'data:text/plain,x', reason: 'scheme data: is not http(s)' },
    });
    regionUrl = null;
    assert.deepEqual(await api.getOrganization('tok', 'eu-org'), { slug: 'eu-org', id: '7' });
  });

  it('getIssue goes to a given region base URL; a refused one (another host, not http(s)) is ignored for SENTRY_URL', { timeout: 10_000 }, async () => {
    const api = createSentryApi({ baseUrl: 'http://127.0.0.1:9', clientId: 'id', clientSecret: 's' });
    seen.length = 0;
    assert.deepEqual(await api.getIssue('tok', 'eu-org', '5', { baseUrl: `${base}/` }), { id: '1' });
    assert.deepEqual(seen, ['/api/0/organizations/eu-org/issues/5/']);
    // SENTRY_URL is the test server: an answer proves the fetch went there, not to the refused host.
    const onBase = createSentryApi({ baseUrl: base, clientId: 'id', clientSecret: 's' });
    for (const refused of ['file:///tmp', 'https://attacker.example', 'http://169.254.169.254']) {
      assert.deepEqual(await onBase.getIssue('tok', 'eu-org', '5', { baseUrl: refused }), { id: '1' }, refused);
    }
    assert.equal(seen.length, 4);
  });
});
