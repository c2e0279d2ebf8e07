import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { manualClock } from '../clock.ts';
import { startStack, installViaRedirect, type Stack } from '../server/harness.ts';
import { tsRunner } from '../testing/runtime.ts';
import { createTokenManager, NeedsReauthError } from './tokens.ts';

const T = { timeout: 60_000 };
const HOUR = 3600_000;
let stack: Stack | undefined;

async function fresh(options: Parameters<typeof startStack>[0] = {}): Promise<{ s: Stack; id: string }> {
  await stack?.stop();
  stack = await startStack(options);
  const { id, status } = await installViaRedirect(stack);
  assert.equal(status, 302);
  return { s: stack, id };
}

const refreshes = (s: Stack) => s.emulator.requests({ endpoint: 'token.refresh' }).filter((r) => r.status === 201).length;
const orgCall = (s: Stack, id: string) => s.app.tokens.withToken(id, (t) => s.api.getOrganization(t, 'acme'));

describe('token lifecycle against the emulator', () => {
  after(async () => { await stack?.stop(); stack = undefined; });

  it('refreshes proactively inside the skew and persists the rotated pair first', T, async () => {
    const { s, id } = await fresh();
    const old = (await s.store.get(id))!;
    s.emulator.advanceClock(8 * HOUR - 60_000); // 1 min left < 5 min skew
    assert.equal((await orgCall(s, id)).slug, 'acme');
    assert.equal(refreshes(s), 1);
    const now = (await s.store.get(id))!;
    assert.notEqual(now.token, old.token);
    assert.notEqual(now.refreshToken, old.refreshToken);
    const [refresh] = s.emulator.requests({ endpoint: 'token.refresh' });
    assert.equal(JSON.parse(refresh!.body).refresh_token, old.refreshToken);
    // The call after the refresh used the new token.
    const lastOrg = s.emulator.requests({ endpoint: 'organization' }).at(-1)!;
    assert.equal(lastOrg.headers.authorization, `Bearer ${now.token}`);
  });

  it('401 Token expired from a call → one refresh → one retry', T, async () => {
    const { s, id } = await fresh();
    // This manager's clock lags Sentry's: it believes the token is still good.
    const lagging = createTokenManager({ store: s.store, api: s.api, clock: manualClock(s.emulator.clock.now()) });
    s.emulator.advanceClock(8 * HOUR + 60_000);
    // The install's region discovery already read the organization once: count only what follows.
    const earlier = s.emulator.requests({ endpoint: 'organization' }).length;
    assert.equal((await lagging.withToken(id, (t) => s.api.getOrganization(t, 'acme'))).slug, 'acme');
    const orgs = s.emulator.requests({ endpoint: 'organization' }).slice(earlier);
    assert.deepEqual(orgs.map((r) => r.status), [401, 200]);
    assert.match(orgs[0]!.responseBody, /Token expired/);
    assert.equal(refreshes(s), 1);
  });

  it('20 concurrent callers at expiry share exactly one refresh', T, async () => {
    const { s, id } = await fresh();
    s.emulator.advanceClock(8 * HOUR + 1000);
    const results = await Promise.all(Array.from({ length: 20 }, () => orgCall(s, id)));
    assert.equal(results.length, 20);
    assert.equal(s.emulator.requests({ endpoint: 'token.refresh' }).length, 1);
    assert.equal(refreshes(s), 1);
  });

  it('lost refresh answer, JWT on: recovered with the JWT-bearer grant', T, async () => {
    const { s, id } = await fresh({ jwtRefresh: true });
    s.emulator.inject({ endpoint: 'token.refresh', kind: 'commit-then-drop', count: 1 });
    s.emulator.advanceClock(8 * HOUR);
    assert.equal((await orgCall(s, id)).slug, 'acme');
    assert.equal(s.emulator.requests({ endpoint: 'token.jwt' }).filter((r) => r.status === 201).length, 1);
    const jwt = s.emulator.requests({ endpoint: 'token.jwt' })[0]!;
    assert.match(jwt.headers.authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal((await s.store.get(id))?.status, 'active');
    assert.equal(s.app.tokens.stats().jwtRecoveries, 1);
    // The log line says what happened (a message with "bearer <word>" came out as "bearer [redacted]").
    assert.ok(s.logger.records().some((r) => r.msg === 'recovered tokens with the JWT grant'), s.logger.lines.join('\n'));
  });

  it('lost refresh answer, JWT recovery fails: the warning is legible, then needs-reauth', T, async () => {
    const { s, id } = await fresh({ jwtRefresh: true });
    s.emulator.inject({ endpoint: 'token.refresh', kind: 'commit-then-drop', count: 1 });
    s.emulator.inject({ endpoint: 'token.jwt', kind: 'status', status: 401, body: '{"detail":"Could not validate JWT"}', count: 3 });
    s.emulator.advanceClock(8 * HOUR);
    await assert.rejects(orgCall(s, id), NeedsReauthError);
    const warning = s.logger.records().find((r) => r.msg === 'JWT grant recovery failed');
    assert.ok(warning, s.logger.lines.join('\n'));
    assert.doesNotMatch(s.logger.lines.join('\n'), /"msg":"[^"]*\[redacted\]/);
  });

  it('lost refresh answer, JWT off: needs-reauth, logged once, on /healthz, never retried', T, async () => {
    const { s, id } = await fresh({ jwtRefresh: false });
    s.emulator.inject({ endpoint: 'token.refresh', kind: 'commit-then-drop', count: 1 });
    s.emulator.advanceClock(8 * HOUR);
    await assert.rejects(orgCall(s, id), NeedsReauthError);
    const before = s.emulator.requests().length;
    await assert.rejects(orgCall(s, id), NeedsReauthError);
    await assert.rejects(orgCall(s, id), NeedsReauthError);
    assert.equal(s.emulator.requests().length, before, 'kept calling Sentry on a dead refresh token');
    assert.equal(s.emulator.requests({ endpoint: 'token.jwt' }).length, 0);
    assert.equal((await s.store.get(id))?.status, 'needs-reauth');
    assert.equal(s.logger.records().filter((r) => /needs re-authorization/.test(String(r.msg))).length, 1);
    const health = await (await request(`${s.url}/healthz`)).body.json() as { needsReauth: string[] };
    assert.deepEqual(health.needsReauth, [id]);
  });

  it('refresh 429 → exponential back-off, then success with the same refresh token', T, async () => {
    const { s, id } = await fresh();
    s.emulator.inject({ endpoint: 'token.refresh', kind: 'status', status: 429, body: '{"detail":"Too many token refresh attempts"}', count: 2 });
    s.emulator.advanceClock(8 * HOUR);
    assert.equal((await orgCall(s, id)).slug, 'acme');
    assert.deepEqual(s.sleeps, [2000, 4000]);
    const attempts = s.emulator.requests({ endpoint: 'token.refresh' });
    assert.deepEqual(attempts.map((r) => r.status), [429, 429, 201]);
    assert.equal(new Set(attempts.map((r) => JSON.parse(r.body).refresh_token)).size, 1);
  });

  it('two processes on one DATA_DIR: exactly one refresh per expiry', T, async () => {
    const { s, id } = await fresh();
    const children: Array<{ proc: ChildProcessWithoutNullStreams; next(): Promise<string> }> = [];
    try {
      for (let i = 0; i < 2; i++) {
        const [cmd, ...args] = tsRunner(new URL('./tokens.child.ts', import.meta.url).pathname);
        const proc = spawn(cmd!, args, {
          env: { ...process.env, DATA_DIR: s.dataDir, SENTRY_URL: s.emulator.url, CLIENT_ID: s.emulator.app.clientId, CLIENT_SECRET: s.emulator.app.clientSecret, INSTALLATION: id, ORG: 'acme', NO_COLOR: '1' },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
        const next = async () => {
          const r = await lines.next();
          if (r.done) throw new Error('child exited');
          return r.value;
        };
        children.push({ proc, next });
        assert.equal(await next(), 'ready');
      }
      const rounds = 3;
      for (let round = 1; round <= rounds; round++) {
        s.emulator.advanceClock(8 * HOUR - 60_000);
        for (const c of children) { c.proc.stdin.write(`advance ${8 * HOUR - 60_000}\n`); assert.equal(await c.next(), 'ok'); }
        for (const c of children) c.proc.stdin.write('hammer 10\n');
        for (const c of children) assert.equal(await c.next(), 'done 10 []');
        assert.equal(refreshes(s), round, `round ${round}`);
      }
      assert.deepEqual(s.emulator.requests({ endpoint: 'token.refresh' }).map((r) => r.status), Array(rounds).fill(201));
      assert.equal(s.emulator.requests({ endpoint: 'token.jwt' }).length, 0);
    } finally {
      for (const c of children) { c.proc.stdin.end('exit\n'); }
      await Promise.all(children.map((c) => new Promise((r) => { if (c.proc.exitCode !== null) r(null); else c.proc.once('exit', r); })));
    }
  });
});
