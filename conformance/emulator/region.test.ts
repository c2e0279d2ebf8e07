import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startSentryEmulator, type EmulatorOptions } from './index.ts';
import { call, installAndExchange, postJson } from './testing.ts';
import type { SentryEmulator } from './types.ts';

const opts = { timeout: 10_000 };
const NOT_FOUND = '{"detail":"The requested resource does not exist"}';

describe('region cell host (§6 Regions)', () => {
  let sentry: SentryEmulator | undefined;
  afterEach(async () => { await sentry?.close(); sentry = undefined; });
  const start = async (options: EmulatorOptions = {}) => {
    sentry = await startSentryEmulator({ region: { orgs: ['eu-org'] }, apps: [{ verifyInstall: false }], ...options });
    return sentry;
  };
  const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
  /** An installed org with a token and one issue. */
  const org = async (s: SentryEmulator, slug: string) => {
    const { install, token } = await installAndExchange(s, slug);
    const { issueId } = await s.emitIssue({ installationId: install.installation.uuid, title: `Boom in ${slug}` });
    return { uuid: install.installation.uuid, token: token.token as string, refreshToken: token.refreshToken as string, issueId };
  };

  it('without the option there is no region host', opts, async () => {
    sentry = await startSentryEmulator();
    assert.equal(sentry.regionUrl, undefined);
  });

  it('a region org gets links.regionUrl = the region host; other orgs keep the main URL', opts, async () => {
    const s = await start();
    assert.match(s.regionUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(s.regionUrl, s.url);
    const eu = await org(s, 'eu-org');
    const us = await org(s, 'us-org');
    const euOrg = await call(`${s.url}/api/0/organizations/eu-org/`, bearer(eu.token));
    assert.equal(euOrg.status, 200);
    assert.deepEqual(euOrg.body.links, { organizationUrl: s.url, regionUrl: s.regionUrl });
    const usOrg = await call(`${s.url}/api/0/organizations/us-org/`, bearer(us.token));
    assert.deepEqual(usOrg.body.links, { organizationUrl: s.url, regionUrl: s.url });
    // The region host answers the same organization document.
    const viaRegion = await call(`${s.regionUrl}/api/0/organizations/eu-org/`, bearer(eu.token));
    assert.equal(viaRegion.text, euOrg.text);
    assert.equal((await call(`${s.url}/_emulator/state`)).body.regionUrl, s.regionUrl);
  });

  it('org-scoped issue works on both hosts; the legacy path on the main host → 404 for region orgs only', opts, async () => {
    const s = await start();
    const eu = await org(s, 'eu-org');
    const us = await org(s, 'us-org');
    const onRegion = await call(`${s.regionUrl}/api/0/organizations/eu-org/issues/${eu.issueId}/`, bearer(eu.token));
    assert.equal(onRegion.status, 200);
    assert.equal(onRegion.body.title, 'Boom in eu-org');
    assert.match(onRegion.headers.get('x-sentry-rate-limit-limit') ?? '', /^\d+$/);
    const proxied = await call(`${s.url}/api/0/organizations/eu-org/issues/${eu.issueId}/`, bearer(eu.token));
    assert.equal(proxied.status, 200);
    const legacy = await call(`${s.url}/api/0/issues/${eu.issueId}/`, bearer(eu.token));
    assert.equal(legacy.status, 404);
    assert.equal(legacy.text, NOT_FOUND);
    assert.equal(s.requests({ endpoint: 'issue.legacy' }).at(-1)?.status, 404);
    assert.equal((await call(`${s.url}/api/0/issues/${us.issueId}/`, bearer(us.token))).status, 200);
  });

  it('the region host serves only org-scoped paths of its own orgs; its requests are recorded with the region', opts, async () => {
    const s = await start({ region: { orgs: ['eu-org'], name: 'de' } });
    const eu = await org(s, 'eu-org');
    const us = await org(s, 'us-org');
    const r = s.regionUrl as string;
    for (const path of [`/api/0/issues/${eu.issueId}/`, `/api/0/sentry-app-installations/${eu.uuid}/`, '/_emulator/state', '/api/0/']) {
      const res = await call(`${r}${path}`, bearer(eu.token));
      assert.equal(res.status, 404, path);
    }
    const exchange = await postJson(`${r}/api/0/sentry-app-installations/${eu.uuid}/authorizations/`, {
      grant_type: 'refresh_token', refresh_token: eu.refreshToken, client_id: s.app.clientId, client_secret: s.app.clientSecret,
    });
    assert.equal(exchange.status, 404);
    // Not rotated: the token endpoint lives on sentry.io only.
    assert.equal((await call(`${s.url}/api/0/organizations/eu-org/`, bearer(eu.token))).status, 200);
    const foreign = await call(`${r}/api/0/organizations/us-org/issues/${us.issueId}/`, bearer(us.token));
    assert.equal(foreign.status, 404);
    assert.equal(foreign.text, NOT_FOUND);
    assert.equal((await call(`${r}/api/0/organizations/us-org/`, bearer(us.token))).status, 404);
    // Authentication still comes first on the region host.
    const anonymous = await call(`${r}/api/0/organizations/eu-org/`);
    assert.equal(anonymous.status, 401);
    const regional = s.requests().filter((q) => q.region === 'de');
    assert.deepEqual(regional.map((q) => q.endpoint), ['unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'issue', 'organization', 'organization']);
    assert.ok(s.requests().filter((q) => q.region === undefined).length > 0);
  });

  it('numeric org ids are routed like slugs; foreignOrg sets the answer for other orgs; close() stops both hosts', opts, async () => {
    const s = await start({ region: { orgs: ['eu-org'], foreignOrg: { status: 401, detail: 'Invalid token' } } });
    const eu = await org(s, 'eu-org');
    const us = await org(s, 'us-org');
    const euId = s.installation(eu.uuid)?.org.id;
    const usId = s.installation(us.uuid)?.org.id;
    const r = s.regionUrl as string;
    assert.equal((await call(`${r}/api/0/organizations/${euId}/`, bearer(eu.token))).status, 200);
    assert.equal((await call(`${r}/api/0/organizations/${usId}/`, bearer(us.token))).text, '{"detail":"Invalid token"}');
    await s.close();
    sentry = undefined;
    await assert.rejects(call(`${r}/api/0/organizations/eu-org/`, bearer(eu.token)));
  });
});
