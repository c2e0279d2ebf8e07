import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNotifyEvents } from './events.ts';
import { createIngest } from './ingest.ts';
import { issueData } from './testing.ts';

describe('ingest', () => {
  const body = (id: string, action = 'created') => ({ action, installation: { uuid: 'inst' }, data: { issue: issueData({ id }) } });

  it('enqueues notifiable deliveries keyed on content and answers duplicates 200', async () => {
    const entries: { key: string; group: string }[] = [];
    const ingest = createIngest({
      events: parseNotifyEvents(undefined),
      outbox: { enqueue: async (e) => { const duplicate = entries.some((x) => x.key === e.key); entries.push(e); return { duplicate }; } },
    });
    assert.deepEqual(await ingest.handle('issue', body('1')), { status: 200, body: { ok: true, queued: true, duplicate: false } });
    assert.deepEqual(await ingest.handle('issue', body('1')), { status: 200, body: { ok: true, queued: false, duplicate: true } });
    assert.equal((await ingest.handle('issue', body('1', 'resolved'))).status, 200);
    assert.equal(entries.length, 2);
    assert.deepEqual(entries.map((e) => e.group), ['inst', 'inst']);
    assert.equal((await ingest.handle('issue', { action: 'created', installation: { uuid: 'inst' }, data: { issue: {} } })).status, 400);
  });

  it('answers 503 when the outbox cannot persist, and ignores unknown installations', async () => {
    const failing = createIngest({ events: parseNotifyEvents(undefined), outbox: { enqueue: async () => { throw new Error('ENOSPC'); } } });
    assert.equal((await failing.handle('issue', body('2'))).status, 503);
    let calls = 0;
    const unknown = createIngest({
      events: parseNotifyEvents(undefined), isInstalled: async () => false,
      outbox: { enqueue: async () => { calls++; return {}; } },
    });
    assert.deepEqual(await unknown.handle('issue', body('3')), { status: 200, body: { ok: true, ignored: 'unknown installation' } });
    assert.equal(calls, 0);
  });
});
