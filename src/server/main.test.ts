import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startSentryEmulator, type SentryEmulator } from '../../conformance/emulator/index.ts';
import { openFileStore } from '../store/file.ts';
import { isDeno, tempDir, tsRunner } from '../testing/runtime.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const T = { timeout: 60_000 };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function serve(env: Record<string, string>, envDir: string, envFile = 'empty.env', fileArgs = ['--dotenv', `${envDir}/${envFile}`]) {
  const [cmd, ...args] = tsRunner(CLI);
  // cwd is the repository (tsx resolves from it); an explicit empty env file keeps ./.env out.
  // Only what the test sets: no stray SENTRY_* from the parent environment.
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' };
  const proc = spawn(cmd!, [...args, 'serve', ...fileArgs], { env: { ...base, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const lines = createInterface({ input: proc.stdout });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.msg === 'ready') resolve(rec);
      } catch { /* not JSON */ }
    });
    void exited.then(() => reject(new Error(`exited before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  return { proc, exited, ready, out: () => stdout, err: () => stderr };
}

describe('serve command', () => {
  let emulator: SentryEmulator;
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    emulator = await startSentryEmulator({ apps: [{ verifyInstall: true }] });
    dir = await tempDir('sik-main-');
    await writeFile(`${dir.path}/empty.env`, '# nothing\n');
  });
  after(async () => {
    await emulator.close();
    await dir.remove();
  });

  it('exits 2 naming the missing variable, without printing secrets', T, async () => {
    const secret = 'd'.repeat(64);
    const run = serve({ SENTRY_CLIENT_SECRET: secret, PORT: 'x', PUBLIC_URL: 'ftp://hooks.example.com' }, dir.path);
    assert.equal(await run.exited, 2);
    assert.match(run.err(), /SENTRY_CLIENT_ID/);
    assert.match(run.err(), /PORT/);
    assert.match(run.err(), /PUBLIC_URL must be an absolute http\(s\) URL .*scheme ftp:/);
    assert.ok(!run.err().includes(secret) && !run.out().includes(secret));
    // (No environment at all is the sandbox, not an error: src/sandbox/start.test.ts covers it.)
  });

  it('--dotenv with a missing file or no path exits 2 saying so (Node itself intercepts --env-file, not --dotenv)', T, async () => {
    const missing = serve({}, dir.path, 'no-such.env');
    assert.equal(await missing.exited, 2, missing.err());
    assert.match(missing.err(), /no-such\.env/);
    const bare = serve({}, dir.path, '', ['--dotenv']);
    assert.equal(await bare.exited, 2);
    assert.match(bare.err(), /--dotenv needs the path of a \.env file/);
    // The --env-file alias: Node exits 9 on it before serve runs (nodejs/node#54232); Deno lets serve answer.
    const alias = serve({}, dir.path, '', ['--env-file=']);
    if (isDeno) {
      assert.equal(await alias.exited, 2);
      assert.match(alias.err(), /--env-file needs the path/);
    } else {
      assert.equal(await alias.exited, 9);
    }
  });

  it('the env file reaches every variable: a bad LOG_LEVEL or NOTIFY_CONCURRENCY there exits 2 naming it', T, async () => {
    await writeFile(`${dir.path}/bad.env`, 'LOG_LEVEL=verbose\nNOTIFY_CONCURRENCY=lots\n');
    const app = emulator.app;
    const env = {
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      PORT: '0', DATA_DIR: `${dir.path}/data-envfile`,
      PUSHOVER_URL: 'http://127.0.0.1:9', PUSHOVER_TOKEN: 'a'.repeat(30), PUSHOVER_USER: 'u'.repeat(30),
    };
    const bad = serve(env, dir.path, 'bad.env');
    assert.equal(await bad.exited, 2, bad.out());
    assert.match(bad.err(), /LOG_LEVEL must be one of debug, info, warn, error, got "verbose"/);
    // The environment wins over the file; the pipeline's own variables are read from the file too.
    const pipeline = serve({ ...env, LOG_LEVEL: 'warn' }, dir.path, 'bad.env');
    assert.equal(await pipeline.exited, 2, pipeline.out());
    assert.match(pipeline.err(), /NOTIFY_CONCURRENCY/);
    assert.doesNotMatch(pipeline.err(), /LOG_LEVEL/);
  });

  it('every bad variable is named in one run (the server\'s, production\'s and the pipeline\'s), before DATA_DIR is created', T, async () => {
    const app = emulator.app;
    const data = `${dir.path}/data-all-bad`;
    const run = serve({
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      PORT: 'x', DATA_DIR: data, PUSHOVER_TOKEN: 'a'.repeat(30),
      NOTIFY_CONCURRENCY: 'abc', NOTIFY_HTML: 'perhaps', PUSHOVER_DEVICE: 'bad device!',
    }, dir.path);
    assert.equal(await run.exited, 2, run.out());
    for (const name of ['PORT', 'NOTIFY_CONCURRENCY', 'NOTIFY_HTML', 'PUSHOVER_DEVICE']) assert.match(run.err(), new RegExp(name), name);
    const partial = serve({
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      PORT: '0', DATA_DIR: data, PUSHOVER_TOKEN: 'a'.repeat(30), NOTIFY_CONCURRENCY: 'abc',
    }, dir.path);
    assert.equal(await partial.exited, 2, partial.out());
    assert.match(partial.err(), /PUSHOVER_USER is required in production[^]*NOTIFY_CONCURRENCY|NOTIFY_CONCURRENCY[^]*PUSHOVER_USER is required in production/);
    assert.equal(existsSync(data), false, 'DATA_DIR was created although the configuration was refused');
  });

  it('a TOKEN_STORE_KEY that decrypts none of the stored records (or none given for an encrypted store) is exit 1, before listening', T, async () => {
    const app = emulator.app;
    const data = `${dir.path}/data-keyed`;
    const keyA = 'a1'.repeat(32);
    const store = await openFileStore({ dir: data, key: Buffer.from(keyA, 'hex'), onWarning: () => {} });
    await store.put({
      installationId: '2ebf071f-28df-4989-aca9-c37c763b278f', orgSlug: 'acme', token: 't'.repeat(64), refreshToken: 'r'.repeat(64),
      expiresAt: '2030-01-01T00:00:00.000Z', scopes: ['event:read'], status: 'active', verified: true,
      createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    });
    await store.close();
    const env = {
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret, PORT: '0', DATA_DIR: data,
      PUSHOVER_URL: 'http://127.0.0.1:9', PUSHOVER_TOKEN: 'a'.repeat(30), PUSHOVER_USER: 'u'.repeat(30),
    };
    const wrongKey = serve({ ...env, TOKEN_STORE_KEY: 'b2'.repeat(32) }, dir.path);
    assert.equal(await wrongKey.exited, 1, wrongKey.err());
    assert.match(wrongKey.out(), /TOKEN_STORE_KEY decrypts none of the installation records/);
    assert.doesNotMatch(wrongKey.out(), /"msg":"ready"/);
    const noKey = serve(env, dir.path);
    assert.equal(await noKey.exited, 1, noKey.err());
    assert.match(noKey.out(), /the installation records are encrypted and TOKEN_STORE_KEY is not set/);
    const rightKey = serve({ ...env, TOKEN_STORE_KEY: keyA }, dir.path);
    await rightKey.ready;
    process.kill(rightKey.proc.pid!, 'SIGTERM');
    assert.equal(await rightKey.exited, 0, rightKey.err());
    for (const run of [wrongKey, noKey, rightKey]) assert.ok(!run.out().includes('b2b2b2b2') && !run.out().includes('a1a1a1a1'), 'no key in the log');
  });

  it('PUBLIC_URL: the ready line and the banner give the public webhook and redirect URLs', T, async () => {
    const app = emulator.app;
    const run = serve({
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      SENTRY_APP_SLUG: app.slug, PORT: '0', DATA_DIR: `${dir.path}/data-public`,
      PUBLIC_URL: 'https://sentry-hooks.example.com/', WEBHOOK_PATH: '/hooks/sentry',
      PUSHOVER_URL: 'http://127.0.0.1:9', PUSHOVER_TOKEN: 'a'.repeat(30), PUSHOVER_USER: 'u'.repeat(30),
    }, dir.path);
    const ready = await run.ready;
    assert.match(String(ready.url), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.webhookUrl, 'https://sentry-hooks.example.com/hooks/sentry');
    assert.equal(ready.redirectUrl, 'https://sentry-hooks.example.com/setup');
    assert.equal(ready.publicUrl, 'https://sentry-hooks.example.com');
    // The banner follows the ready line on stderr; the server still listens on its own address.
    const health = await request(`${String(ready.url)}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    process.kill(run.proc.pid!, 'SIGTERM');
    assert.equal(await run.exited, 0, run.err());
    assert.match(run.err(), /Webhook URL {3}https:\/\/sentry-hooks\.example\.com\/hooks\/sentry\n/);
    assert.match(run.err(), /Redirect URL {2}https:\/\/sentry-hooks\.example\.com\/setup\n/);
    assert.match(run.err(), /\(PUBLIC_URL; listening on http:\/\/127\.0\.0\.1:\d+\)/);
    assert.ok(!run.err().includes(app.clientSecret) && !run.out().includes(app.clientSecret));
  });

  it('prints a ready line, serves, and shuts down gracefully on SIGTERM finishing in-flight work', T, async () => {
    const app = emulator.app;
    const data = `${dir.path}/data`;
    const run = serve({
      SENTRY_URL: emulator.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      SENTRY_APP_SLUG: app.slug, PORT: '0', DATA_DIR: data,
      // Production requires Pushover keys; nothing is sent to them in this test.
      PUSHOVER_URL: 'http://127.0.0.1:9', PUSHOVER_TOKEN: 'a'.repeat(30), PUSHOVER_USER: 'u'.repeat(30),
    }, dir.path);
    const ready = await run.ready;
    const url = String(ready.url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.webhookUrl, `${url}/webhook`);
    assert.equal(ready.redirectUrl, `${url}/setup`);
    assert.equal(ready.dataDir, data);
    emulator.updateApp(app.slug, { redirectUrl: `${url}/setup`, webhookUrl: `${url}/webhook` });
    const health = await request(`${url}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    // An install whose exchange is slow is in flight when SIGTERM arrives: it must complete.
    emulator.inject({ endpoint: 'token.exchange', kind: 'latency', ms: 700, count: 1 });
    const install = await emulator.install({ sendWebhook: false });
    const pending = request(install.redirectUrl!);
    await new Promise((r) => setTimeout(r, 300)); // real time: let the request reach the server
    // process.kill, not proc.kill: Deno's child_process reports any proc.kill()ed child as killed by the signal.
    process.kill(run.proc.pid!, 'SIGTERM');
    const res = await pending;
    assert.equal(res.statusCode, 302);
    await res.body.dump();
    assert.equal(await run.exited, 0, `${run.out()}\n${run.err()}`);
    const store = await openFileStore({ dir: data, onWarning: () => {} });
    try {
      assert.equal((await store.get(install.installation.uuid))?.status, 'active');
    } finally {
      await store.close();
    }
    // Logs are JSON lines with no secrets.
    const lines = run.out().trim().split('\n');
    for (const line of lines) JSON.parse(line);
    assert.ok(!run.out().includes(app.clientSecret));
    assert.doesNotMatch(run.out(), /[0-9a-f]{64}/);
    assert.ok(lines.some((l) => /"msg":"stopped"/.test(l)));
  });
});
