import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { startPipelineStack, type PipelineStack } from '../pipeline/harness.ts';
import { manualClock } from '../clock.ts';
import { memoryLogger } from '../log.ts';
import { SentryApiError, type SentryApi } from '../sentry/api.ts';
import { createTokenManager } from '../sentry/tokens.ts';
import { createMemoryStore } from '../store/memory.ts';
import { installViaRedirect } from './harness.ts';
import { createInstaller, REGION_RETRY_MS } from './install.ts';

// Region discovery end to end: the Sentry emulator with a second "region" host (de.sentry.io to
// sentry.io) for eu-org, the real server, outbox, worker and Pushover emulator.
const T = { timeout: 40_000 };
let h: PipelineStack | undefined;

/** A fresh stack whose emulator has a region host ('de') serving eu-org. */
async function regionStack(verifyInstall: boolean, emulator: Record<string, unknown> = {}): Promise<PipelineStack> {
  await h?.stop();
  h = undefined;
  h = await startPipelineStack({ stack: { verifyInstall, emulator: { region: { orgs: ['eu-org'] }, ...emulator } } });
  return h;
}

/** Emits an issue and waits for its Pushover message; returns the issue fetches the emulator recorded for it. */
async function notify(s: PipelineStack, installationId: string) {
  const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId, title: 'RangeError: region test' });
  assert.equal(delivery?.attempts[0]?.status, 200);
  const tags = `${installationId}:issue:created:${issueId}`;
  await s.waitFor(() => s.pushover.messages({ tags }).length === 1, 'the Pushover message');
  assert.match(s.pushover.messages({ tags })[0]?.params.title ?? '', /RangeError: region test/);
  return s.stack.emulator.requests({ endpoint: 'issue' }).filter((r) => r.path.endsWith(`/issues/${issueId}/`));
}

const warnings = (s: PipelineStack) => s.stack.logger.lines.filter((l) => /"level":"warn"/.test(l) && /region/.test(l));

describe('region discovery (links.regionUrl) and the issue fetch on the region host', () => {
  afterEach(async () => {
    if (!h) return;
    const text = h.stack.logger.lines.join('\n');
    assert.ok(!text.includes(h.stack.emulator.app.clientSecret), 'client secret logged');
    for (const record of await h.stack.store.list()) {
      assert.ok(!text.includes(record.token) && !text.includes(record.refreshToken), 'a token was logged');
    }
  });
  after(async () => { await h?.stop(); h = undefined; });

  it('redirect install with verify into a region org: regionUrl stored after verify, issue fetched on the region host', T, async () => {
    const s = await regionStack(true);
    const regionUrl = s.stack.emulator.regionUrl!;
    assert.ok(regionUrl && regionUrl !== s.stack.emulator.url);
    const { id, status } = await installViaRedirect(s.stack, 'eu-org');
    assert.equal(status, 302);
    const record = await s.stack.store.get(id);
    assert.equal(record?.regionUrl, regionUrl);
    assert.equal(record?.verified, true);
    // Discovery went to the control host (it proxies org paths), after verify, with the new token.
    const org = s.stack.emulator.requests({ endpoint: 'organization' });
    assert.equal(org.length, 1);
    assert.equal(org[0]?.path, '/api/0/organizations/eu-org/');
    assert.equal(org[0]?.status, 200);
    assert.equal(org[0]?.region, undefined);
    const all = s.stack.emulator.requests();
    assert.ok(all.findIndex((r) => r.endpoint === 'verify') < all.findIndex((r) => r.endpoint === 'organization'));
    const fetches = await notify(s, id);
    assert.equal(fetches.length, 1);
    assert.equal(fetches[0]?.region, 'de');
    assert.equal(fetches[0]?.status, 200);
    assert.equal(fetches[0]?.path.startsWith('/api/0/organizations/eu-org/issues/'), true);
    assert.match(s.stack.logger.lines.join('\n'), /"msg":"region discovered".*"foreign":true/);
  });

  it('webhook install (verify off): the region org uses the region host, an org outside it keeps SENTRY_URL', T, async () => {
    const s = await regionStack(false);
    const eu = await s.install('eu-org');
    const us = await s.install('acme');
    await s.stack.app.idle();
    assert.equal((await s.stack.store.get(eu))?.regionUrl, s.stack.emulator.regionUrl);
    // Outside the region the emulator answers its own URL (as sentry.io would answer us.sentry.io).
    assert.equal((await s.stack.store.get(us))?.regionUrl, s.stack.emulator.url);
    const euFetches = await notify(s, eu);
    assert.deepEqual(euFetches.map((r) => [r.region, r.status]), [['de', 200]]);
    const usFetches = await notify(s, us);
    assert.deepEqual(usFetches.map((r) => [r.region, r.status]), [[undefined, 200]]);
    assert.deepEqual(warnings(s), []);
  });

  it('discovery failing (500) does not fail the install: warning logged, issue fetched via SENTRY_URL', T, async () => {
    const s = await regionStack(true);
    // Keeps failing, so the worker's lazy retry fails too.
    s.stack.emulator.inject({ endpoint: 'organization', kind: 'status', status: 500, body: '{"detail":"boom"}', count: 100 });
    const { id, status } = await installViaRedirect(s.stack, 'eu-org');
    assert.equal(status, 302);
    const record = await s.stack.store.get(id);
    assert.equal(record?.status, 'active');
    assert.equal(record?.verified, true);
    assert.equal(record?.regionUrl, undefined);
    assert.equal(warnings(s).length, 1);
    assert.match(warnings(s)[0]!, /region discovery failed.*"status":500/);
    // sentry.io proxies org-scoped paths to the region, so the fetch still works from the main host.
    const fetches = await notify(s, id);
    assert.deepEqual(fetches.map((r) => [r.region, r.status]), [[undefined, 200]]);
  });

  it('a discovery that failed at install is retried by the worker before the first issue fetch', T, async () => {
    const s = await regionStack(true);
    s.stack.emulator.inject({ endpoint: 'organization', kind: 'status', status: 500, body: '{"detail":"boom"}', count: 1 });
    const { id, status } = await installViaRedirect(s.stack, 'eu-org');
    assert.equal(status, 302);
    assert.equal((await s.stack.store.get(id))?.regionUrl, undefined);
    const fetches = await notify(s, id);
    assert.deepEqual(fetches.map((r) => [r.region, r.status]), [['de', 200]]);
    assert.equal((await s.stack.store.get(id))?.regionUrl, s.stack.emulator.regionUrl);
  });

  it('a non-http(s) regionUrl is refused and logged; the installation keeps SENTRY_URL', T, async () => {
    const s = await regionStack(false, { regionUrl: 'javascript:alert(1)//' });
    const id = await s.install('acme');
    await s.stack.app.idle();
    const record = await s.stack.store.get(id);
    assert.equal(record?.status, 'active');
    assert.equal(record?.regionUrl, undefined);
    assert.equal(warnings(s).length, 1);
    assert.match(warnings(s)[0]!, /region URL refused.*"regionUrl":"javascript:alert\(1\)\/\/".*"reason":"scheme javascript: is not http\(s\)"/);
    const fetches = await notify(s, id);
    assert.deepEqual(fetches.map((r) => [r.region, r.status]), [[undefined, 200]]);
    assert.equal(s.stack.emulator.requests({ endpoint: 'unknown' }).length, 0);
  });

});

/** An installer over a memory store and a fake API (only what the test's API object implements is called). */
function installerWith(api: SentryApi) {
  const store = createMemoryStore();
  const clock = manualClock();
  const tokens = createTokenManager({ store, api, clock });
  const logger = memoryLogger();
  const installer = createInstaller({ config: { verifyInstall: false, sentryUrl: 'https://sentry.example' }, store, api, tokens, clock, logger });
  return { store, tokens, logger, installer, clock };
}

const grant = async () => ({ token: 't'.repeat(64), refreshToken: 'r'.repeat(64), expiresAt: '2099-01-01T00:00:00Z', scopes: ['org:read'] });

describe('installer: region discovery', () => {
  it('a purge during discovery stays a purge: nothing is written back', { timeout: 10_000 }, async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let asked = 0;
    const api = {
      exchange: grant,
      async getOrganization(_token: string, orgSlug: string) {
        asked++;
        await gate;
        return { slug: orgSlug, regionUrl: 'https://de.example' };
      },
    } as unknown as SentryApi;
    const { store, tokens, logger, installer } = installerWith(api);
    const id = '11111111-2222-4333-8444-555555555555';
    const done = installer.complete({ installationId: id, code: 'a'.repeat(32), orgSlug: 'eu-org', source: 'webhook' });
    while (asked === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await store.get(id))?.regionUrl, undefined);
    // What installation.deleted does in app.ts.
    tokens.forget(id);
    await store.withLock(id, () => store.delete(id));
    release();
    const result = await done;
    assert.equal(result.record.regionUrl, undefined);
    assert.equal(await store.get(id), undefined);
    assert.doesNotMatch(logger.lines.join('\n'), /region discovered/);
  });

  it('the happy path stores the region and logs it as foreign to SENTRY_URL', { timeout: 10_000 }, async () => {
    const api = {
      exchange: grant,
      getOrganization: async (_token: string, orgSlug: string) => ({ slug: orgSlug, regionUrl: 'https://de.example' }),
    } as unknown as SentryApi;
    const { store, tokens, logger, installer } = installerWith(api);
    const id = '11111111-2222-4333-8444-555555555556';
    const result = await installer.complete({ installationId: id, code: 'a'.repeat(32), orgSlug: 'eu-org', source: 'setup' });
    assert.equal(result.record.regionUrl, 'https://de.example');
    assert.equal((await store.get(id))?.regionUrl, 'https://de.example');
    assert.match(logger.lines.join('\n'), /"msg":"region discovered".*"regionUrl":"https:\/\/de\.example".*"foreign":true/);
  });

  it('regionFor: lazy retry after a failed discovery, single-flight, at most once per REGION_RETRY_MS', { timeout: 10_000 }, async () => {
    let calls = 0;
    let failing = true;
    const api = {
      exchange: grant,
      async getOrganization(_token: string, orgSlug: string) {
        calls++;
        if (failing) throw new SentryApiError({ kind: 'forbidden', status: 403, operation: 'organization', detail: 'You do not have permission to perform this action.' });
        return { slug: orgSlug, regionUrl: 'https://de.example' };
      },
    } as unknown as SentryApi;
    const { store, logger, installer, clock } = installerWith(api);
    const id = '11111111-2222-4333-8444-555555555557';
    const result = await installer.complete({ installationId: id, code: 'a'.repeat(32), orgSlug: 'eu-org', source: 'setup' });
    assert.equal(result.record.status, 'active');
    assert.equal(result.record.regionUrl, undefined);
    assert.equal(calls, 1);
    assert.match(logger.lines.join('\n'), /region discovery failed.*"kind":"forbidden","status":403/);
    assert.equal(await installer.regionFor(id), undefined); // first lazy try: still 403
    assert.equal(calls, 2);
    assert.equal(await installer.regionFor(id), undefined); // inside the retry window: no call
    assert.equal(calls, 2);
    failing = false;
    clock.advance(REGION_RETRY_MS);
    const both = await Promise.all([installer.regionFor(id), installer.regionFor(id)]);
    assert.deepEqual(both, ['https://de.example', 'https://de.example']);
    assert.equal(calls, 3);
    assert.equal((await store.get(id))?.regionUrl, 'https://de.example');
    assert.equal(await installer.regionFor(id), 'https://de.example'); // from the record
    assert.equal(calls, 3);
    assert.equal(await installer.regionFor('11111111-2222-4333-8444-000000000000'), undefined); // unknown
    assert.equal(calls, 3);
  });
});
