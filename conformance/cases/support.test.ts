/** The pure parts of the shared case steps: URL rewriting, request filters and the checks' verdicts. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaseFailure, SecretBook, type CaseContext } from '../harness.ts';
import { startSentryEmulator } from '../emulator/index.ts';
import { call, installAndExchange } from '../emulator/testing.ts';
import type { RecordedRequest, SentryEmulator } from '../emulator/types.ts';
import { tempDir } from '../../src/testing/runtime.ts';
import {
  describeRequests, expectAcked, expectAckedWithin1s, expectCount, expectNot5xx, filesUnder, firstOf, granted, setupPathFrom, waitInstalled,
} from './support.ts';

/** Just enough of a case context for the helpers under test: settings and a throwing `fail`. */
const ctx = {
  settings: { setupPath: '/install/setup', webhookPath: '/hook', pushoverRetryMinMs: 200, waitMs: 1000 },
  fail(message: string, details?: { expected?: string; actual?: string }): never { throw new CaseFailure(message, details); },
} as unknown as CaseContext;

const req = (id: number, status: number, path = `/p/${id}`): RecordedRequest =>
  ({ id, status, method: 'POST', path, endpoint: 'token.exchange' }) as unknown as RecordedRequest;

describe('setupPathFrom', () => {
  const redirect = 'https://integration.example/setup?installationId=abc&code=c0de&orgSlug=acme';
  it('re-targets Sentry\'s redirect at the setup path, keeping its query', () => {
    assert.equal(setupPathFrom(ctx, redirect), '/install/setup?installationId=abc&code=c0de&orgSlug=acme');
  });
  it('sets, replaces and removes parameters', () => {
    assert.equal(setupPathFrom(ctx, redirect, { code: null }), '/install/setup?installationId=abc&orgSlug=acme');
    assert.equal(setupPathFrom(ctx, redirect, { code: 'ffff', state: 'forged-1' }), '/install/setup?installationId=abc&code=ffff&orgSlug=acme&state=forged-1');
  });
});

describe('request filters', () => {
  it('granted keeps the 201 answers only, in order', () => {
    assert.deepEqual(granted([req(1, 401), req(2, 201), req(3, 503), req(4, 201)]).map((r) => r.id), [2, 4]);
  });
  it('describeRequests lists method and path, with the status when asked', () => {
    assert.equal(describeRequests([req(1, 201), req(2, 401)]), 'POST /p/1; POST /p/2');
    assert.equal(describeRequests([req(1, 201)], { status: true }), 'POST /p/1 → 201');
    assert.equal(describeRequests([]), '');
  });
});

describe('firstOf', () => {
  it('lists up to ten items and counts the rest', () => {
    assert.equal(firstOf([]), '');
    assert.equal(firstOf(['a', 'b']), 'a, b');
    const many = Array.from({ length: 54 }, (_, i) => `f${i}`);
    assert.equal(firstOf(many), 'f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, and 44 more');
    assert.equal(firstOf(many.slice(0, 10)), many.slice(0, 10).join(', '));
  });
});

describe('checks', () => {
  const failsWith = (fn: () => void, message: string, details: { expected?: string; actual?: string }) =>
    assert.throws(fn, (e: unknown) => e instanceof CaseFailure && e.message === message && e.expected === details.expected && e.actual === details.actual);

  it('expectAcked passes any 2xx and fails anything else, including no answer', () => {
    expectAcked(ctx, 200, 'x');
    expectAcked(ctx, 299, 'x');
    failsWith(() => expectAcked(ctx, 302, 'not acked'), 'not acked', { expected: '2xx', actual: '302' });
    failsWith(() => expectAcked(ctx, undefined, 'not acked'), 'not acked', { expected: '2xx', actual: 'undefined' });
    failsWith(() => expectAcked(ctx, 0, 'not acked'), 'not acked', { expected: '2xx', actual: 'no answer (timeout or connection error)' });
  });
  it('expectAckedWithin1s needs a 2xx under 1000 ms', () => {
    expectAckedWithin1s(ctx, 'hook', { status: 200, durationMs: 999 });
    failsWith(() => expectAckedWithin1s(ctx, 'hook', { status: 200, durationMs: 1000 }), 'hook was not acknowledged 2xx within 1 s', { expected: '2xx in < 1000 ms', actual: '200 after 1000 ms' });
    failsWith(() => expectAckedWithin1s(ctx, 'hook', { status: 500, durationMs: 3 }), 'hook was not acknowledged 2xx within 1 s', { expected: '2xx in < 1000 ms', actual: '500 after 3 ms' });
    failsWith(() => expectAckedWithin1s(ctx, 'hook', { status: 200 }), 'hook was not acknowledged 2xx within 1 s', { expected: '2xx in < 1000 ms', actual: '200 after undefined ms' });
    failsWith(() => expectAckedWithin1s(ctx, 'hook', { status: 0, durationMs: 1001, error: 'timeout after 1000 ms' }), 'hook was not acknowledged 2xx within 1 s', { expected: '2xx in < 1000 ms', actual: 'no answer (timeout after 1000 ms) after 1001 ms' });
    failsWith(() => expectAckedWithin1s(ctx, 'hook', undefined), 'hook was not acknowledged 2xx within 1 s', { expected: '2xx in < 1000 ms', actual: 'undefined after undefined ms' });
  });
  it('expectNot5xx fails on 5xx only', () => {
    expectNot5xx(ctx, 499, 'x');
    expectNot5xx(ctx, undefined, 'x');
    failsWith(() => expectNot5xx(ctx, 502, 'crashed'), 'crashed', { expected: 'not 5xx', actual: '502' });
  });
  it('expectCount compares exactly', () => {
    expectCount(ctx, 1, 1, 'x');
    failsWith(() => expectCount(ctx, 2, 1, 'twice'), 'twice', { expected: '1', actual: '2' });
    failsWith(() => expectCount(ctx, 0, 1, 'never'), 'never', { expected: '1', actual: '0' });
  });
});

describe('filesUnder', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await tempDir('sik-support-');
    await mkdir(join(dir.path, 'jobs', 'deep'), { recursive: true });
    await writeFile(join(dir.path, 'a.json'), 'token-a');
    await writeFile(join(dir.path, 'jobs', 'deep', 'b.json'), 'token-b');
  });
  after(async () => { await dir.remove(); });

  it('reads every file below the directory, with paths relative to it', async () => {
    const files = (await filesUnder(dir.path)).sort((x, y) => x.relativePath.localeCompare(y.relativePath));
    assert.deepEqual(files.map((f) => [f.relativePath, f.bytes.toString()]), [['a.json', 'token-a'], [join('jobs', 'deep', 'b.json'), 'token-b']]);
    assert.equal(files[0]?.path, join(dir.path, 'a.json'));
  });
  it('finds nothing in a directory that does not exist', async () => {
    assert.deepEqual(await filesUnder(join(dir.path, 'missing')), []);
  });
});

describe('waitInstalled: one missing verify fails fast instead of costing every installing case the full wait', () => {
  let sentry: SentryEmulator;
  before(async () => { sentry = await startSentryEmulator({ apps: [{ verifyInstall: true }] }); });
  after(async () => { await sentry.close(); });

  /** A context over the real emulator whose waitFor never sleeps: it probes once and records the time it was given. */
  const waits: Array<{ what: string; timeoutMs: number | undefined }> = [];
  const context = (): CaseContext => ({
    sentry, secrets: new SecretBook(), target: { exited: () => undefined },
    settings: { setupPath: '/setup', webhookPath: '/webhook', pushoverRetryMinMs: 200, waitMs: 10_000 },
    sentryRequests: (filter?: { endpoint?: string }) => sentry.requests(filter),
    async waitFor(what: string, probe: () => unknown, timeoutMs?: number) {
      waits.push({ what, timeoutMs });
      const value = await probe();
      if (value === undefined || value === false) throw new CaseFailure(`timed out after ${timeoutMs} ms waiting for ${what}`);
      return value;
    },
  }) as unknown as CaseContext;
  const verifyWaits = () => waits.filter((w) => w.what.startsWith('the verify-install PUT'));
  const exchanged = async (org: string) => (await installAndExchange(sentry, org)).install.installation.uuid;

  it('the first miss waits the full --wait-ms; later installs wait a fifth and say why; a verify restores the full wait', { timeout: 10_000 }, async () => {
    await assert.rejects(waitInstalled(context(), await exchanged('org-1')), (e: unknown) => e instanceof CaseFailure && !/shortened/.test(e.message));
    assert.equal(verifyWaits().at(-1)?.timeoutMs, 10_000);

    await assert.rejects(waitInstalled(context(), await exchanged('org-2')),
      (e: unknown) => e instanceof CaseFailure && /timed out after 2000 ms .*shortened from 10000 ms to 2000 ms \(fail fast\).*waited 10000 ms for its verify in vain/.test(e.message));
    assert.equal(verifyWaits().at(-1)?.timeoutMs, 2000);

    // An implementation that does verify gets the full wait back.
    const { install, token } = await installAndExchange(sentry, 'org-3');
    const third = install.installation.uuid;
    const put = await call(`${sentry.url}/api/0/sentry-app-installations/${third}/`, {
      method: 'PUT', headers: { Authorization: `Bearer ${token.token}`, 'Content-Type': 'application/json' }, body: '{"status":"installed"}',
    });
    assert.equal(put.status, 200);
    await waitInstalled(context(), third);
    await assert.rejects(waitInstalled(context(), await exchanged('org-4')), (e: unknown) => e instanceof CaseFailure && !/shortened/.test(e.message));
    assert.equal(verifyWaits().at(-1)?.timeoutMs, 10_000);
  });
});
