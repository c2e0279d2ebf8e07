// `npm start` (= `src/cli.ts serve`) as a newcomer runs it: with no environment at all it starts the
// sandbox, reaches "ready" and prints the one URL to open; with a partial production configuration
// it exits 2 naming each missing variable; with a complete one it prints what to paste into Sentry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tempDir } from '../testing/runtime.ts';
import { startServe } from './testing.ts';

const T = { timeout: 90_000 };
const KEY_A = 'aB3'.repeat(10); // 30 × [A-Za-z0-9]: the shape of a Pushover key
const KEY_B = 'uV7'.repeat(10);

describe('start command', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => { dir = await tempDir('sik-start-'); });
  after(async () => { await dir.remove(); });

  it('with no environment: sandbox mode, ready, prints the URL to open, which serves the Integrations page', T, async () => {
    // SETUP_REDIRECT_URL (a production setting) is ignored by the sandbox.
    const child = startServe({ PORT: '0', DATA_DIR: `${dir.path}/data`, SETUP_REDIRECT_URL: 'https://example.com/elsewhere' });
    try {
      const ready = await child.ready;
      assert.equal(ready.mode, 'sandbox');
      assert.equal(ready.dataDir, `${dir.path}/data`);
      const open = String(ready.open);
      assert.match(open, /^http:\/\/127\.0\.0\.1:\d+\/settings\/acme\/integrations\/$/);
      // The banner (stderr) says sandbox, gives the same URL and names the production variables.
      await waitFor(() => child.stderr().includes('Ctrl-C'));
      assert.match(child.stderr(), /SANDBOX/);
      assert.ok(child.stderr().includes(`Open ${open}`));
      for (const name of ['SENTRY_CLIENT_ID', 'SENTRY_CLIENT_SECRET', 'PUSHOVER_TOKEN', 'PUSHOVER_USER']) assert.ok(child.stderr().includes(name), name);
      const page = await fetch(open);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<h1>Integrations<\/h1>/);
      // The app registered in the emulator points at our server.
      const feed = await (await fetch(new URL('/_ui/feed', open))).json() as { app: { webhookUrl: string; redirectUrl: string } };
      assert.equal(feed.app.webhookUrl, `${String(ready.url)}/webhook`);
      assert.equal(feed.app.redirectUrl, `${String(ready.url)}/setup`);
      // Install in another org, following the redirects by hand: emulator → our /setup → back to
      // Sentry's page for that org's installation (not a fixed URL).
      const install = await fetch(new URL('/_ui/install', open), { method: 'POST', body: new URLSearchParams({ org: 'other' }), redirect: 'manual' });
      assert.equal(install.status, 303);
      const setup = install.headers.get('location')!;
      assert.ok(setup.startsWith(`${String(ready.url)}/setup?`), setup);
      const back = await fetch(setup, { redirect: 'manual' });
      assert.equal(back.status, 302);
      assert.equal(back.headers.get('location'), new URL('/settings/other/sentry-apps/pushover-notifier/', open).toString());
      const health = await fetch(`${String(ready.url)}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await health.json() as { mode: string }).mode, 'sandbox');
    } finally {
      child.stop();
    }
    assert.equal(await child.exited, 0);
  });

  it('without DATA_DIR the sandbox store is a temporary directory, removed on exit', T, async () => {
    const child = startServe({ PORT: '0' });
    let store = '';
    try {
      store = String((await child.ready).dataDir);
      assert.ok(existsSync(store), store);
      await waitFor(() => child.stderr().includes('temporary, removed on exit'));
    } finally {
      child.stop();
    }
    assert.equal(await child.exited, 0);
    assert.equal(existsSync(store), false);
  });

  it('partial production configuration: exit 2 naming what is missing, no secret printed', T, async () => {
    const secret = 'c'.repeat(64);
    const noId = startServe({ PORT: '0', DATA_DIR: `${dir.path}/p1`, SENTRY_CLIENT_SECRET: secret });
    assert.equal(await noId.exited, 2);
    assert.match(noId.stderr(), /SENTRY_CLIENT_ID/);
    const noPushover = startServe({ PORT: '0', DATA_DIR: `${dir.path}/p2`, SENTRY_CLIENT_ID: 'id', SENTRY_CLIENT_SECRET: secret });
    assert.equal(await noPushover.exited, 2);
    assert.match(noPushover.stderr(), /PUSHOVER_TOKEN is required in production/);
    assert.match(noPushover.stderr(), /PUSHOVER_USER is required in production/);
    const noUser = startServe({ PORT: '0', DATA_DIR: `${dir.path}/p3`, SENTRY_CLIENT_ID: 'id', SENTRY_CLIENT_SECRET: secret, PUSHOVER_TOKEN: KEY_A });
    assert.equal(await noUser.exited, 2);
    assert.match(noUser.stderr(), /PUSHOVER_USER/);
    assert.doesNotMatch(noUser.stderr(), /PUSHOVER_TOKEN is required/);
    // Production settings without the credentials (a lost or empty secret): not a quiet sandbox.
    const lostSecret = startServe({ PORT: '0', DATA_DIR: `${dir.path}/p4`, SENTRY_CLIENT_SECRET: '', PUSHOVER_TOKEN: KEY_A, PUSHOVER_USER: KEY_B, SENTRY_APP_SLUG: 'my-app' });
    assert.equal(await lostSecret.exited, 2);
    assert.match(lostSecret.stderr(), /SENTRY_CLIENT_ID and SENTRY_CLIENT_SECRET are required: SENTRY_APP_SLUG, PUSHOVER_TOKEN, PUSHOVER_USER are set, which only production uses/);
    assert.equal(existsSync(`${dir.path}/p4`), false, 'the sandbox did not start in that DATA_DIR');
    for (const child of [noId, noPushover, noUser, lostSecret]) {
      for (const text of [child.stdout(), child.stderr()]) {
        assert.ok(!text.includes(secret) && !text.includes(KEY_A) && !text.includes(KEY_B), 'no secret in the output');
      }
    }
  });

  it('complete production configuration: prints the URLs to paste into Sentry, the store and Pushover, no secrets', T, async () => {
    const secret = 'e'.repeat(64);
    const data = `${dir.path}/prod`;
    const child = startServe({
      PORT: '0', DATA_DIR: data, SENTRY_CLIENT_ID: 'client-id', SENTRY_CLIENT_SECRET: secret, SENTRY_APP_SLUG: 'my-app',
      PUSHOVER_TOKEN: KEY_A, PUSHOVER_USER: KEY_B, PUSHOVER_URL: 'http://127.0.0.1:9',
    });
    try {
      const ready = await child.ready;
      assert.equal(ready.mode, 'production');
      assert.equal(ready.open, undefined);
      await waitFor(() => child.stderr().includes('Pushover'));
      const banner = child.stderr();
      assert.match(banner, /PRODUCTION/);
      assert.ok(banner.includes(`Webhook URL   ${String(ready.url)}/webhook`), banner);
      assert.ok(banner.includes(`Redirect URL  ${String(ready.url)}/setup`), banner);
      assert.ok(banner.includes(data), banner);
      assert.match(banner, /not encrypted/);
      assert.match(banner, /Pushover\s+configured/);
      for (const text of [child.stdout(), banner]) assert.ok(!text.includes(secret) && !text.includes(KEY_A) && !text.includes(KEY_B));
    } finally {
      child.stop();
    }
    assert.equal(await child.exited, 0);
  });
});

/** Polls (real time: the child writes when it gets CPU) until `check` holds, for at most 20 s. */
async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for output');
    await new Promise((r) => setTimeout(r, 20));
  }
}
