import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../clock.ts';
import { createStateSigner, externalInstallUrl } from './state.ts';

describe('signed setup state', () => {
  it('accepts its own state once, within 10 minutes', () => {
    const clock = manualClock();
    const signer = createStateSigner('secret', clock);
    const a = signer.issue();
    const b = signer.issue();
    assert.equal(signer.verify(a), 'ok');
    assert.equal(signer.verify(a), 'replayed');
    clock.advance(10 * 60_000 + 1);
    assert.equal(signer.verify(b), 'expired');
  });

  it('refuses states signed with another key or tampered', () => {
    const clock = manualClock();
    const other = createStateSigner('other', clock).issue();
    const signer = createStateSigner('secret', clock);
    assert.equal(signer.verify(other), 'invalid');
    const mine = signer.issue();
    assert.equal(signer.verify(mine.replace(/^\d/, (d) => String((Number(d) + 1) % 10))), 'invalid');
    assert.equal(signer.verify('garbage'), 'invalid');
    assert.equal(signer.verify(''), 'invalid');
  });

  it('during a secret rotation, accepts states signed under the previous secret, and only the listed ones', () => {
    const clock = manualClock();
    const beforeRotation = createStateSigner('old-secret', clock).issue();
    const stranger = createStateSigner('someone-else', clock).issue();
    const rotated = createStateSigner('new-secret', clock, undefined, ['old-secret']);
    assert.equal(rotated.verify(beforeRotation), 'ok');
    assert.equal(rotated.verify(beforeRotation), 'replayed');
    assert.equal(rotated.verify(stranger), 'invalid');
    assert.equal(createStateSigner('old-secret', clock).verify(rotated.issue()), 'invalid', 'new states are signed under the new secret');
    assert.equal(createStateSigner('new-secret', clock).verify(createStateSigner('old-secret', clock).issue()), 'invalid', 'without the previous secret listed');
  });

  it('builds the external-install link', () => {
    assert.equal(externalInstallUrl('https://sentry.io/', 'my-app', 'a.b'), 'https://sentry.io/sentry-apps/my-app/external-install/?state=a.b');
  });
});
