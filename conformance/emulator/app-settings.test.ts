import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { oversizedPng } from '../../scripts/gen-image-fixtures.ts';
import { startSentryEmulator } from './index.ts';
import type { SentryEmulator } from './types.ts';

const fixture = (name: string) => readFile(new URL(`../../fixtures/images/${name}`, import.meta.url));

describe('emulator app settings over HTTP: avatar upload and publish request', { timeout: 30_000 }, () => {
  let emulator: SentryEmulator;
  before(async () => { emulator = await startSentryEmulator(); });
  after(() => emulator.close());

  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${emulator.url}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : undefined };
  };
  const avatar = (slug: string, file: Buffer, color: boolean) =>
    call('PUT', `/api/0/sentry-apps/${slug}/avatar/`, { avatar_type: 'upload', avatar_photo: file.toString('base64'), color });
  const publish = (slug: string) =>
    call('POST', `/api/0/sentry-apps/${slug}/publish-request/`, { questionnaire: [{ question: 'What does it do?', answer: 'Pages on-call.' }] });

  it('refuses to publish before a logo is uploaded, in Sentry words', async () => {
    const answer = await publish(emulator.app.slug);
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, { detail: 'Must upload a logo for the integration.' });
  });

  it('rejects a non-black icon with Sentry message and accepts a good logo, then publishes', async () => {
    const badIcon = await avatar(emulator.app.slug, await fixture('logo-good.png'), false);
    assert.equal(badIcon.status, 400);
    assert.deepEqual(badIcon.body, { avatar_photo: ['The icon must only use black and should contain an alpha channel.'] });
    const logo = await avatar(emulator.app.slug, await fixture('logo-good.png'), true);
    assert.equal(logo.status, 200);
    const published = await publish(emulator.app.slug);
    assert.equal(published.status, 201);
    assert.equal(published.body, undefined);
    assert.deepEqual(await publish(emulator.app.slug), { status: 400, body: { detail: 'Publish request in progress.' } });
  });

  it('answers 404 for an unknown app, 405 for a wrong method, 400 for a malformed body, and records the endpoint', async () => {
    assert.equal((await avatar('no-such-app', Buffer.from('x'), true)).status, 404);
    assert.equal((await call('GET', `/api/0/sentry-apps/${emulator.app.slug}/avatar/`, undefined as unknown as string)).status, 405);
    assert.equal((await call('PUT', `/api/0/sentry-apps/${emulator.app.slug}/avatar/`, '{oops')).status, 400);
    assert.ok(emulator.requests({ endpoint: 'avatar' }).length >= 4);
    assert.ok(emulator.requests({ endpoint: 'publish-request' }).length >= 3);
  });

  it('takes avatar bodies up to Sentry\'s image limit over HTTP: an oversized image gets the endpoint\'s 413, not the body limit', async () => {
    const big = oversizedPng();
    assert.ok(big.length > 5_000_000 && big.length < 6_000_000, `fixture is ${big.length} bytes`);
    assert.deepEqual(await avatar(emulator.app.slug, big, false), { status: 413, body: { detail: 'Image too large' } });
    // Other endpoints keep the 1 MiB body limit.
    const other = await call('POST', `/api/0/sentry-apps/${emulator.app.slug}/publish-request/`, { questionnaire: 'x'.repeat(2 << 20) });
    assert.deepEqual(other, { status: 413, body: { detail: 'Request body too large' } });
  });
});
