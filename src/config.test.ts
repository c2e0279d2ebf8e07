import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyEnvFile, ConfigError, describeConfig, loadConfig, parseDotEnv, publicUrls, readEnvFile } from './config.ts';
import { tempDir } from './testing/runtime.ts';

const SECRET = 'c'.repeat(64);
const base = { SENTRY_CLIENT_ID: 'client-1', SENTRY_CLIENT_SECRET: SECRET };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({ env: base });
    assert.equal(c.mode, 'production');
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.sentryUrl, 'https://sentry.io');
    assert.equal(c.verifyInstall, true);
    assert.equal(c.dataDir, './data');
    assert.equal(c.setupPath, '/setup');
    assert.equal(c.webhookPath, '/webhook');
    assert.equal(c.jwtRefresh, true);
    assert.equal(c.tokenRefreshSkewMs, 300_000);
    assert.equal(c.setupFailureLimit, 20);
    assert.equal(c.maxConnections, 1000);
    assert.deepEqual(c.trustProxy, { loopback: true, addresses: new Set(), ranges: [] });
    assert.equal(c.pushover.retryMinMs, 5000);
    assert.equal(c.setupRedirectUrl, undefined);
  });

  it('is sandbox without credentials', () => {
    assert.equal(loadConfig({ env: {} }).mode, 'sandbox');
  });

  it('names every malformed variable and never prints secret values', () => {
    const found = problems({
      SENTRY_CLIENT_SECRET: SECRET, PORT: 'eighty', VERIFY_INSTALL: 'maybe', SENTRY_URL: 'ftp://x',
      TOKEN_STORE_KEY: 'short-secret-value', WEBHOOK_PATH: 'hook', TOKEN_REFRESH_SKEW_MS: '-1',
      PUSHOVER_TOKEN: 'not-a-token-secret', SETUP_FAILURE_LIMIT: 'ten', MAX_CONNECTIONS: '-5', TRUST_PROXY: 'my-proxy', HEALTHZ_TOKEN: 'tiny-hz-secret',
    });
    const text = found.join('\n');
    for (const name of ['SENTRY_CLIENT_ID', 'PORT', 'VERIFY_INSTALL', 'SENTRY_URL', 'TOKEN_STORE_KEY', 'WEBHOOK_PATH', 'TOKEN_REFRESH_SKEW_MS', 'PUSHOVER_TOKEN', 'SETUP_FAILURE_LIMIT', 'MAX_CONNECTIONS', 'TRUST_PROXY', 'HEALTHZ_TOKEN']) {
      assert.match(text, new RegExp(name), name);
    }
    assert.doesNotMatch(text, /short-secret-value|not-a-token-secret|tiny-hz-secret|cccccccc/);
  });

  it('SENTRY_URL and PUSHOVER_URL: a query or fragment is refused (API paths are appended); SETUP_REDIRECT_URL may have one', () => {
    const text = problems({ ...base, SENTRY_URL: 'https://sentry.io/?org=acme', PUSHOVER_URL: 'https://api.pushover.net#x' }).join('\n');
    assert.match(text, /SENTRY_URL must be a base URL without query or fragment/);
    assert.match(text, /PUSHOVER_URL must be a base URL without query or fragment/);
    assert.equal(loadConfig({ env: { ...base, SETUP_REDIRECT_URL: 'https://example.test/done?x=1' } }).setupRedirectUrl, 'https://example.test/done?x=1');
  });

  it('requires the secret when the client id is set', () => {
    assert.match(problems({ SENTRY_CLIENT_ID: 'x' }).join(), /SENTRY_CLIENT_SECRET/);
  });

  it('reads a .env file; the environment wins', { timeout: 10_000 }, async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, '.env');
      await writeFile(file, `# comment\nexport SENTRY_CLIENT_ID=from-file\nSENTRY_CLIENT_SECRET="${SECRET}"\nPORT=4000 # inline\nHOST='0.0.0.0'\n`);
      const c = loadConfig({ env: { PORT: '5000' }, envFile: file });
      assert.equal(c.clientId, 'from-file');
      assert.equal(c.clientSecret, SECRET);
      assert.equal(c.port, 5000);
      assert.equal(c.host, '0.0.0.0');
      assert.equal(loadConfig({ env: {}, envFile: join(dir.path, 'missing') }).mode, 'sandbox');
      assert.throws(() => loadConfig({ env: {}, envFile: join(dir.path, 'missing'), envFileRequired: true }), ConfigError);
    } finally {
      await dir.remove();
    }
  });

  it('LOG_LEVEL: one of debug/info/warn/error (any case), else named; read from .env like the rest', { timeout: 10_000 }, async () => {
    assert.equal(loadConfig({ env: base }).logLevel, 'info');
    assert.equal(loadConfig({ env: { ...base, LOG_LEVEL: 'WARN' } }).logLevel, 'warn');
    assert.match(problems({ ...base, LOG_LEVEL: 'verbose' }).join('\n'), /LOG_LEVEL must be one of debug, info, warn, error, got "verbose"/);
    const dir = await tempDir();
    try {
      const file = join(dir.path, '.env');
      await writeFile(file, 'LOG_LEVEL=debug\n');
      assert.equal(loadConfig({ env: base, envFile: file }).logLevel, 'debug');
    } finally {
      await dir.remove();
    }
  });

  it('applyEnvFile completes an environment with .env values without overriding it', { timeout: 10_000 }, async () => {
    const dir = await tempDir();
    try {
      const file = join(dir.path, '.env');
      await writeFile(file, 'NOTIFY_CONCURRENCY=4\nPORT=4000\nHOST=0.0.0.0\n');
      const env: Record<string, string | undefined> = { PORT: '5000', HOST: '' };
      assert.deepEqual(applyEnvFile(env, readEnvFile(file, true)), ['NOTIFY_CONCURRENCY']);
      assert.deepEqual(env, { PORT: '5000', HOST: '', NOTIFY_CONCURRENCY: '4' });
      assert.deepEqual(readEnvFile(join(dir.path, 'missing'), false), {});
      assert.throws(() => readEnvFile(join(dir.path, 'missing'), true), /cannot read env file .*missing: ENOENT/);
    } finally {
      await dir.remove();
    }
  });

  it('parses .env quoting and reports bad lines by number only', () => {
    assert.deepEqual(parseDotEnv('A="x\\ny" # c\nB=\'lit\\n\'\nC = spaced value\n'), { A: 'x\ny', B: 'lit\\n', C: 'spaced value' });
    assert.throws(() => parseDotEnv('OK=1\nsecret-line-without-equals\n'), (e: unknown) =>
      e instanceof ConfigError && /line 2/.test(e.message) && !e.message.includes('secret-line'));
    assert.throws(() => parseDotEnv('A="unterminated\n'), /unterminated/);
  });

  it('PUBLIC_URL: optional absolute http(s) base, trailing slash trimmed, query/fragment/credentials refused by name', () => {
    assert.equal(loadConfig({ env: base }).publicUrl, undefined);
    assert.equal(loadConfig({ env: { ...base, PUBLIC_URL: 'https://sentry-hooks.example.com/' } }).publicUrl, 'https://sentry-hooks.example.com');
    assert.equal(loadConfig({ env: { ...base, PUBLIC_URL: 'http://Proxy.Example:8080/sentry//' } }).publicUrl, 'http://proxy.example:8080/sentry');
    for (const [value, why] of [
      ['sentry-hooks.example.com', /not an absolute URL/],
      ['ftp://sentry-hooks.example.com', /scheme ftp: is not http\(s\)/],
      ['javascript:alert(1)', /scheme javascript: is not http\(s\)/],
      ['https://sentry-hooks.example.com/?a=1', /no query or fragment/],
      ['https://sentry-hooks.example.com/#top', /no query or fragment/],
      ['https://sentry-hooks.example.com?', /no query or fragment/],
    ] as const) {
      const found = problems({ ...base, PUBLIC_URL: value });
      assert.equal(found.length, 1, value);
      assert.match(found[0]!, /^PUBLIC_URL must be an absolute http\(s\) URL/);
      assert.match(found[0]!, why);
    }
    const withCredentials = problems({ ...base, PUBLIC_URL: 'https://user:hunter2@example.com' });
    assert.deepEqual(withCredentials, ['PUBLIC_URL must not contain credentials (value not shown)']);
  });

  it('publicUrls: the URLs to paste into Sentry, on PUBLIC_URL when set', () => {
    const paths = { webhookPath: '/hooks/sentry', setupPath: '/install' };
    assert.deepEqual(publicUrls({ ...paths, publicUrl: 'https://sentry-hooks.example.com' }, 'http://127.0.0.1:3000'), {
      base: 'https://sentry-hooks.example.com', fromPublicUrl: true,
      webhookUrl: 'https://sentry-hooks.example.com/hooks/sentry', redirectUrl: 'https://sentry-hooks.example.com/install',
    });
    assert.deepEqual(publicUrls(paths, 'http://127.0.0.1:3000/'), {
      base: 'http://127.0.0.1:3000', fromPublicUrl: false,
      webhookUrl: 'http://127.0.0.1:3000/hooks/sentry', redirectUrl: 'http://127.0.0.1:3000/install',
    });
  });

  it('describes itself without secrets', () => {
    const text = JSON.stringify(describeConfig(loadConfig({ env: { ...base, TOKEN_STORE_KEY: 'ab'.repeat(32), HEALTHZ_TOKEN: 'hz-secret-value-123' } })));
    assert.doesNotMatch(text, /cccc|abab|hz-secret/);
    assert.match(text, /"clientSecret":"set"/);
    assert.match(text, /"healthzToken":"set"/);
    assert.match(text, /"trustProxy":"loopback"/);
  });
});
