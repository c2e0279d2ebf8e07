import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from './clock.ts';
import { memoryLogger, redact } from './log.ts';

const TOKEN = 'ec48bf98637d44c294ead7566513686237e74ab67a074c64b3aaca2d93dbb8f1';

describe('log', () => {
  it('writes one JSON object per line with time, level, msg and context', () => {
    const log = memoryLogger({ clock: manualClock(Date.parse('2026-01-02T03:04:05.000Z')) });
    log.child({ requestId: 'r1' }).info('installed', { installation: 'abc' });
    assert.equal(log.lines.length, 1);
    assert.deepEqual(JSON.parse(log.lines[0]!), { time: '2026-01-02T03:04:05.000Z', level: 'info', msg: 'installed', requestId: 'r1', installation: 'abc' });
  });

  it('redacts secret keys, 64-hex strings, bearer values and query secrets', () => {
    const log = memoryLogger();
    log.warn(`refresh failed for ${TOKEN}`, {
      token: 'short', refreshToken: 'r', refresh_token: 'r2', code: 'grantcode', clientSecret: 's', signature: 'sig',
      headers: { authorization: 'Bearer abc', 'sentry-hook-signature': 'x' },
      url: '/setup?code=abcdef&installationId=1', note: `Bearer ${'z'.repeat(10)}`, nested: [{ secret: 'x' }],
      error: Object.assign(new Error(`bad ${TOKEN}`), { detail: 'Invalid token' }),
      ok: true, hasToken: true,
    });
    const line = log.lines[0]!;
    for (const leak of [TOKEN, 'short', '"r"', 'r2', 'grantcode', '"s"', 'sig"', 'Bearer abc', 'abcdef', 'zzzz']) {
      assert.ok(!line.includes(leak), `leaked ${leak}: ${line}`);
    }
    const rec = log.records()[0]!;
    assert.equal(rec.ok, true);
    assert.equal(rec.hasToken, true);
    assert.deepEqual(rec.error, { name: 'Error', message: 'bad [redacted]', detail: 'Invalid token' });
  });

  it('keeps system error codes on errors but still redacts a grant code there', () => {
    const log = memoryLogger();
    log.error('cannot listen', {
      error: Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }),
      fetch: Object.assign(new Error('timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
      grant: Object.assign(new Error('exchange failed'), { code: 'f3c71b491e3949b6b033ae45312a4fcb' }),
    });
    const rec = log.records()[0]!;
    assert.equal((rec.error as Record<string, unknown>).code, 'EADDRINUSE');
    assert.equal((rec.fetch as Record<string, unknown>).code, 'UND_ERR_HEADERS_TIMEOUT');
    assert.equal((rec.grant as Record<string, unknown>).code, '[redacted]');
  });

  it('filters by level', () => {
    const log = memoryLogger({ level: 'warn' });
    log.info('quiet');
    log.error('loud');
    assert.deepEqual(log.records().map((r) => r.msg), ['loud']);
  });

  it('redact leaves ordinary values alone', () => {
    assert.deepEqual(redact({ installation: 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de', count: 3 }), { installation: 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de', count: 3 });
  });
});
