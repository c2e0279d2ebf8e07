import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verify } from '../sentry/signature.ts';
import { closedLoop, quantile } from './load.ts';
import { issueData, signedWebhook } from './testing.ts';

describe('closedLoop', { timeout: 20_000 }, () => {
  let server: Server;
  let url = '';
  const seen: string[] = [];
  let valid = 0;
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        if (verify('s3cret', raw, req.headers['sentry-hook-signature'])) valid++;
        const body = JSON.parse(raw.toString('utf8')) as { data: { issue: { id: string } } };
        seen.push(body.data.issue.id);
        // Every 10th request fails so the status histogram and `acked` are exercised.
        res.writeHead(seen.length % 10 === 0 ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends exactly maxRequests signed deliveries and counts answers', async () => {
    const result = await closedLoop({
      url, concurrency: 4, maxRequests: 50, maxMs: 15_000,
      next: (i) => signedWebhook({
        secret: 's3cret', installationId: 'inst', resource: 'issue', action: 'created',
        data: { issue: issueData({ id: String(i), title: 'Über 🚀' }) },
      }),
    });
    assert.equal(result.sent, 50);
    assert.equal(valid, 50);
    assert.deepEqual([...seen].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 50 }, (_, i) => String(i)));
    assert.deepEqual(result.statuses, { 200: 45, 500: 5 });
    assert.equal(result.acked.length, 45);
    assert.ok(result.p99Ms >= result.p50Ms && result.rps > 0);
  });

  it('refuses non-loopback targets and reports refused connections as status 0', async () => {
    await assert.rejects(closedLoop({ url: 'http://example.com/', concurrency: 1, maxRequests: 1, maxMs: 1, next: () => ({ body: '', headers: {} }) }), /loopback-only/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await closedLoop({ url: `http://127.0.0.1:${port}/`, concurrency: 1, maxRequests: 3, maxMs: 5000, next: () => ({ body: '{}', headers: {} }) });
    assert.deepEqual(result.statuses, { 0: 3 });
  });

  it('computes nearest-rank quantiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.99), 99);
    assert.equal(quantile([], 0.5), 0);
  });
});
