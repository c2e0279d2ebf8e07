import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { isDeno, tempDir } from '../testing/runtime.ts';
import { parseJournal } from '../outbox/journal.ts';
import { startFloorServer } from './bench-floor.ts';
import { spawnBenchServer, startBareServer, type BenchServer } from './bench-server.ts';
import { closedLoop } from './load.ts';
import { issueData, signedWebhook } from './testing.ts';

describe('bench servers', { timeout: 90_000 }, () => {
  const secret = randomBytes(32).toString('hex');
  const installationId = randomUUID();
  let dir: { path: string; remove(): Promise<void> };
  let ours: BenchServer | undefined;
  before(async () => {
    dir = await tempDir('sik-bench-server-');
  });
  after(async () => {
    await ours?.close();
    await dir.remove();
  });

  it('bare reads the whole body and answers 200', async () => {
    const bare = await startBareServer();
    try {
      const body = 'x'.repeat(100_000);
      const res = await request(bare.url, { method: 'POST', body });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-body-bytes'], String(body.length));
      assert.deepEqual(await res.body.json(), { ok: true });
    } finally {
      await bare.close();
    }
  });

  it('floor verifies, writes every webhook to its journal before answering, and refuses bad ones', async () => {
    const floorDir = await tempDir('sik-bench-floor-test-');
    const floor = await startFloorServer({ secret, dir: floorDir.path });
    try {
      const deliveries = Array.from({ length: 30 }, (_, i) => signedWebhook({
        secret, installationId, resource: 'issue', action: 'created', data: { issue: issueData({ id: String(900 + i), org: 'bench-org' }) },
      }));
      const load = await closedLoop({ url: floor.url, concurrency: 4, maxRequests: deliveries.length, maxMs: 30_000, next: (i) => deliveries[i]! });
      assert.deepEqual(load.statuses, { 200: 30 });
      // Answered means written: all 30 records are in the journal already.
      const journal = parseJournal(readFileSync(join(floorDir.path, 'floor-journal.log')));
      assert.equal(journal.records.length, 30);
      assert.ok(journal.zeroTail, 'the rest of the preallocated file is zeros');
      const keys = new Set(journal.records.map((r) => (r as { key: string }).key));
      assert.equal(keys.size, 30);
      const bad = deliveries[0]!;
      const res = await request(floor.url, { method: 'POST', headers: { ...bad.headers, 'sentry-hook-signature': '0'.repeat(64) }, body: bad.body });
      assert.equal(res.statusCode, 401);
      await res.body.dump();
      const garbled = signedWebhook({ secret, installationId, resource: 'issue', action: 'created', data: {} });
      const res2 = await request(floor.url, { method: 'POST', headers: garbled.headers, body: garbled.body });
      assert.equal(res2.statusCode, 400);
      await res2.body.dump();
      assert.equal(parseJournal(readFileSync(join(floorDir.path, 'floor-journal.log'))).records.length, 30);
    } finally {
      await floor.close();
      await floorDir.remove();
    }
  });

  it('floor runs as a child server', async () => {
    const floor = await spawnBenchServer('floor', { secret });
    try {
      const delivery = signedWebhook({ secret, installationId, resource: 'issue', action: 'created', data: { issue: issueData({ id: '77', org: 'bench-org' }) } });
      const res = await request(floor.url, { method: 'POST', headers: delivery.headers, body: delivery.body });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(await res.body.json(), { ok: true, queued: true, duplicate: false });
    } finally {
      await floor.close();
    }
  });

  it('ours runs in a child: signed webhooks are acknowledged after a durable enqueue, logged, and counted', async () => {
    const logFile = join(dir.path, 'ours.log');
    ours = await spawnBenchServer('ours', { secret, installationId, logFile });
    const before = await ours.stats();
    const deliveries = Array.from({ length: 40 }, (_, i) => signedWebhook({
      secret, installationId, resource: 'issue', action: 'created', data: { issue: issueData({ id: String(500 + i), org: 'bench-org' }) },
    }));
    const load = await closedLoop({ url: ours.url, concurrency: 4, maxRequests: deliveries.length, maxMs: 30_000, next: (i) => deliveries[i]! });
    assert.deepEqual(load.statuses, { 200: 40 });
    // A tampered copy is refused: the child really verifies.
    const bad = deliveries[0]!;
    const res = await request(ours.url, { method: 'POST', headers: { ...bad.headers, 'sentry-hook-signature': '0'.repeat(64) }, body: bad.body });
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    const after = await ours.stats();
    assert.equal(after.outbox!.appends - before.outbox!.appends, 40);
    assert.equal(after.outbox!.pending, 40);
    assert.ok(after.outbox!.fsyncs >= 1 && after.outbox!.fsyncs <= 40, `fsyncs ${after.outbox!.fsyncs}`);
    assert.ok(after.cpuMs > before.cpuMs);
    if (!isDeno) assert.ok(after.loopBusyMs! > before.loopBusyMs!, 'the main thread was busy serving the load');
    await ours.close();
    ours = undefined;
    // One `request` line per webhook reached the log file (written before the child exited).
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    assert.equal(requests.length, 41);
    assert.ok(!readFileSync(logFile, 'utf8').includes(secret));
  });
});
