import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isUuid, looksLikeGrantCode, parseEnvelope, parseInstallation, parseTokenGrant, PayloadError } from './payloads.ts';

const UUID = 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de';

describe('payloads', () => {
  it('parses the reference installation.created envelope, ignoring unknown fields', () => {
    const body = { action: 'created', installation: { uuid: UUID }, data: { installation: { app: { uuid: 'x', slug: 'webhooks-galore', sentryAppId: 9 }, organization: { slug: 'test-org', id: 5 }, uuid: UUID, status: 'pending', code: 'f3c71b491e3949b6b033ae45312a4fcb', extra: 1 } }, actor: { type: 'user', id: 1, name: 'Meredith Heller' } };
    const env = parseEnvelope(body);
    assert.equal(env.resource, 'installation');
    assert.deepEqual(env.actor, { type: 'user', id: 1, name: 'Meredith Heller' });
    assert.deepEqual(parseInstallation(env.data.installation), { uuid: UUID, orgSlug: 'test-org', orgId: 5, appSlug: 'webhooks-galore', appUuid: 'x', status: 'pending', code: 'f3c71b491e3949b6b033ae45312a4fcb' });
    assert.equal(parseEnvelope(body, 'issue').resource, 'issue');
  });

  it('rejects malformed envelopes and ids', () => {
    for (const bad of [null, [], {}, { action: 'x', installation: { uuid: '../x' }, data: {} }, { action: 'x', installation: { uuid: UUID } }]) {
      assert.throws(() => parseEnvelope(bad), PayloadError);
    }
    assert.throws(() => parseInstallation({ uuid: UUID, organization: { slug: '../x' } }), PayloadError);
    assert.equal(isUuid(UUID.toUpperCase()), false);
    assert.equal(looksLikeGrantCode('abc/def'), false);
    assert.equal(looksLikeGrantCode('f3c71b491e3949b6b033ae45312a4fcb'), true);
  });

  it('parses token answers generically', () => {
    const grant = parseTokenGrant({ id: 38, token: 't', refreshToken: 'r', expiresAt: '2019-08-08T04:25:09.870123Z', unknown: true });
    assert.deepEqual(grant, { token: 't', refreshToken: 'r', expiresAt: '2019-08-08T04:25:09.870123Z', scopes: [], id: '38' });
    assert.throws(() => parseTokenGrant({ token: 't', refreshToken: 'r', expiresAt: 'soon' }), /expiresAt/);
  });
});
