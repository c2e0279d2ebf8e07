import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '../sentry/signature.ts';
import { startStack, installViaRedirect, type Stack } from './harness.ts';
import { createStateSigner } from './state.ts';
import { isDeno } from '../testing/runtime.ts';

const T = { timeout: 30_000 };
let stack: Stack | undefined;

async function fresh(options: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  await stack?.stop();
  stack = await startStack(options);
  return stack;
}

function count(s: Stack, endpoint: string, status?: number): number {
  return s.emulator.requests({ endpoint }).filter((r) => status === undefined || r.status === status).length;
}

async function postWebhook(s: Stack, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST') {
  const res = await request(`${s.url}/webhook`, {
    method: method as 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(method === 'POST' ? { body } : {}),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

function assertNoSecretsLogged(s: Stack): void {
  const text = s.logger.lines.join('\n');
  assert.ok(!text.includes(s.emulator.app.clientSecret), 'client secret logged');
  assert.doesNotMatch(text, /[0-9a-f]{64}/, 'a 64-hex value (token/signature) was logged');
  for (const req of s.emulator.requests()) {
    const body = req.body && req.body.startsWith('{') ? JSON.parse(req.body) as Record<string, unknown> : {};
    if (typeof body.code === 'string') assert.ok(!text.includes(body.code), 'grant code logged');
  }
}

describe('integration server end to end (emulator + file store)', () => {
  afterEach(() => { if (stack) assertNoSecretsLogged(stack); });
  after(async () => { await stack?.stop(); stack = undefined; });

  it('redirect install with verify: exchange, store, PUT with the new bearer, 302 to the app settings', T, async () => {
    const s = await fresh({ verifyInstall: true });
    const { id, status, location } = await installViaRedirect(s);
    assert.equal(status, 302);
    assert.equal(location, `${s.emulator.url}/settings/acme/sentry-apps/${s.emulator.app.slug}/`);
    const record = await s.store.get(id);
    assert.ok(record);
    assert.equal(record.status, 'active');
    assert.equal(record.verified, true);
    assert.equal(record.orgSlug, 'acme');
    assert.equal(s.emulator.installation(id)?.status, 'installed');
    const [verify] = s.emulator.requests({ endpoint: 'verify' });
    assert.equal(verify?.status, 200);
    assert.equal(verify?.headers.authorization, `Bearer ${record.token}`);
    const exchange = s.emulator.requests({ endpoint: 'token.exchange' })[0]!;
    assert.match(exchange.headers['content-type'] ?? '', /^application\/json/);
    for (const r of s.emulator.requests()) assert.equal(r.headers.origin, undefined, 'Origin header sent');
  });

  it('redirect install without verify: no PUT, install already installed', T, async () => {
    const s = await fresh({ verifyInstall: false, env: { SETUP_REDIRECT_URL: 'https://example.test/done?x=1' } });
    const { id, status, location } = await installViaRedirect(s);
    assert.equal(status, 302);
    assert.equal(location, 'https://example.test/done?x=1');
    assert.equal(count(s, 'verify'), 0);
    assert.equal((await s.store.get(id))?.verified, true);
    assert.equal(s.emulator.installation(id)?.status, 'installed');
  });

  it('webhook install: installation.created exchanges the code and verifies', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install({ org: 'hooks' });
    const delivery = await result.webhook!;
    assert.equal(delivery.delivered, true);
    assert.equal(delivery.attempts[0]?.status, 200);
    const record = await s.store.get(result.installation.uuid);
    assert.equal(record?.orgSlug, 'hooks');
    assert.equal(record?.verified, true);
    assert.equal(s.emulator.installation(result.installation.uuid)?.status, 'installed');
  });

  it('same code by webhook then redirect: one exchange, redirect still succeeds', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install();
    await result.webhook;
    const token = (await s.store.get(result.installation.uuid))?.token;
    const res = await s.browse(result.redirectUrl!);
    assert.equal(res.status, 302);
    assert.equal(count(s, 'token.exchange'), 1);
    assert.equal((await s.store.get(result.installation.uuid))?.token, token, 'record overwritten');
  });

  it('same code by redirect then (late) webhook: one exchange, webhook 2xx, nothing overwritten', T, async () => {
    const s = await fresh();
    s.emulator.inject({ endpoint: 'webhook', kind: 'latency', ms: 300, count: 1 });
    const result = await s.emulator.install();
    const res = await s.browse(result.redirectUrl!);
    assert.equal(res.status, 302);
    const token = (await s.store.get(result.installation.uuid))?.token;
    const delivery = await result.webhook!;
    assert.equal(delivery.delivered, true);
    assert.equal(count(s, 'token.exchange'), 1);
    assert.equal((await s.store.get(result.installation.uuid))?.token, token);
  });

  it('same code by both at once: exactly one exchange, both succeed', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install();
    const [res, delivery] = await Promise.all([s.browse(result.redirectUrl!), result.webhook!]);
    assert.equal(res.status, 302);
    assert.equal(delivery.delivered, true);
    await s.app.idle();
    assert.equal(count(s, 'token.exchange'), 1);
    assert.equal(count(s, 'token.exchange', 401), 0);
  });

  it('a code exchanged elsewhere: 401 grant answer → 400 page, nothing stored', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install({ sendWebhook: false });
    await s.api.exchange(result.installation.uuid, result.code!); // someone else used it
    const res = await s.browse(result.redirectUrl!);
    assert.equal(res.status, 400);
    assert.match(res.body, /unknown, used or expired/);
    assert.equal(await s.store.get(result.installation.uuid), undefined);
  });

  it('expired grant: 400 page, no stack trace, nothing stored', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install({ sendWebhook: false });
    s.emulator.advanceClock(11 * 60_000);
    const res = await s.browse(result.redirectUrl!);
    assert.equal(res.status, 400);
    assert.match(res.body, /<html/);
    assert.doesNotMatch(res.body, /at \w+ \(|\.ts:\d+/);
    assert.equal(count(s, 'token.exchange', 401), 1);
    assert.equal(await s.store.get(result.installation.uuid), undefined);
  });

  it('wrong credentials: 502 page', T, async () => {
    const s = await fresh({ env: { SENTRY_CLIENT_SECRET: 'f'.repeat(64) } });
    const result = await s.emulator.install({ sendWebhook: false });
    const res = await s.browse(result.redirectUrl!);
    assert.equal(res.status, 502);
    assert.doesNotMatch(res.body, /f{64}|\.ts:\d+/);
    assert.equal(await s.store.get(result.installation.uuid), undefined);
  });

  it('a store failure during /setup is a 500 HTML page (not JSON), with or without a code', T, async () => {
    const s = await fresh();
    const { id } = await installViaRedirect(s);
    await writeFile(s.store.pathOf(id), 'not a record'); // get() now throws StoreCorruptError
    const result = await s.emulator.install({ org: 'other', sendWebhook: false });
    const targets = [
      `${s.url}/setup?installationId=${id}&orgSlug=acme`,
      result.redirectUrl!.replace(result.installation.uuid, id),
    ];
    for (const target of targets) {
      const res = await request(target);
      const body = await res.body.text();
      assert.equal(res.statusCode, 500, target);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(body, /could not read or save its installation records/);
      assert.doesNotMatch(body, /\.ts:\d+|StoreCorruptError/);
    }
    assert.ok(s.logger.lines.some((l) => /"msg":"setup failed".*StoreCorruptError/.test(l)));
  });

  it('a client hanging up mid-body is an info line, not an error', T, async () => {
    const s = await fresh();
    // Our listener runs after the app's own, which has started reading the body by then.
    const received = new Promise<void>((resolve) => s.app.server.once('request', () => resolve()));
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"action":');
    await received;
    socket.destroy();
    await s.app.idle();
    const aborted = s.logger.records().filter((r) => r.msg === 'request aborted by the client');
    assert.equal(aborted.length, 1, s.logger.lines.join('\n'));
    assert.equal(aborted[0]!.level, 'info');
    assert.equal(s.logger.records().filter((r) => r.level === 'error').length, 0, s.logger.lines.join('\n'));
  });

  it('a client that sends no request is cut at the headers timeout, not at Node\'s 30 s connection sweep', T, async () => {
    const s = await fresh({ server: { timeouts: { headers: 200, request: 400 } } });
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
    const started = performance.now();
    // Waits for the server's own timer (no sleep here); with the default 30 s sweep this exceeds T.
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    assert.ok(performance.now() - started < 5_000, `closed after ${Math.round(performance.now() - started)} ms`);
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it('MAX_CONNECTIONS: a connection over the cap is closed unanswered; the open ones keep working, and a freed place is taken', T, async () => {
    const s = await fresh({ env: { MAX_CONNECTIONS: '2' } });
    const port = Number(new URL(s.url).port);
    /** One request on a raw socket: the status line, or undefined when the server closed it unanswered. */
    const ask = (socket: Socket) => new Promise<string | undefined>((resolve) => {
      let answer = '';
      const onData = (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.includes('\r\n\r\n')) { socket.off('data', onData); resolve(answer.split('\r\n')[0]); }
      };
      socket.on('data', onData);
      socket.once('close', () => resolve(undefined));
      socket.write('GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    const open = () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      return socket;
    };
    const [a, b] = [open(), open()];
    assert.equal(await ask(a), 'HTTP/1.1 404 Not Found');
    assert.equal(await ask(b), 'HTTP/1.1 404 Not Found');
    const third = open();
    assert.equal(await ask(third), undefined, 'the third connection was answered');
    assert.equal(await ask(a), 'HTTP/1.1 404 Not Found', 'a kept-alive connection still works');
    a.destroy();
    // The server notices the close asynchronously: new connections are refused until it has.
    let answered: string | undefined;
    let refusedRetries = 0;
    for (let attempt = 0; attempt < 200 && answered === undefined; attempt++) {
      const next = open();
      answered = await ask(next);
      if (answered === undefined) refusedRetries++;
      next.destroy();
    }
    assert.equal(answered, 'HTTP/1.1 404 Not Found');
    b.destroy();
    if (!isDeno) {
      // The first refusal warns at once; later ones within 10 s are summed into the warning at close.
      await s.app.close();
      const warnings = s.logger.records().filter((r) => r.msg === 'connections refused: MAX_CONNECTIONS reached');
      assert.equal(warnings[0]?.refused, 1);
      const refusedInAll = warnings.reduce((sum, r) => sum + Number(r.refused), 0);
      assert.equal(refusedInAll, 1 + refusedRetries, JSON.stringify(warnings));
      assert.ok(warnings.length <= 2, JSON.stringify(warnings));
    }
  });

  it('rejects installationId path injection without calling Sentry', T, async () => {
    const s = await fresh();
    const result = await s.emulator.install({ sendWebhook: false });
    const before = s.emulator.requests().length;
    for (const bad of ['../../api/0/organizations/acme', '%2e%2e%2fx', `${result.installation.uuid}/../x`, `${result.installation.uuid.toUpperCase()}`, '']) {
      const target = `${s.url}/setup?installationId=${encodeURIComponent(bad)}&code=${result.code}&orgSlug=acme`;
      assert.equal((await s.browse(target)).status, 400, bad);
    }
    assert.equal((await s.browse(`${s.url}/setup?installationId=${result.installation.uuid}&code=${result.code}&orgSlug=..%2Fx`)).status, 400);
    assert.equal((await s.browse(`${s.url}/setup?installationId=${result.installation.uuid}&code=bad%2Fcode&orgSlug=acme`)).status, 400);
    assert.equal(s.emulator.requests().length, before, 'a request reached the emulator');
    assert.deepEqual(s.emulator.requests({ endpoint: 'unknown' }), []);
  });

  it('signed state: issued state accepted, foreign/replayed state → 400', T, async () => {
    const s = await fresh();
    const start = await s.browse(`${s.url}/setup/start`);
    assert.equal(start.status, 302);
    const state = new URL(start.location!).searchParams.get('state')!;
    assert.match(start.location!, new RegExp(`/sentry-apps/${s.emulator.app.slug}/external-install/\\?state=`));
    const ok = await s.emulator.install({ sendWebhook: false, state });
    assert.equal((await s.browse(ok.redirectUrl!)).status, 302);
    const exchanges = count(s, 'token.exchange');
    assert.equal((await s.browse(ok.redirectUrl!)).status, 302, 'a reload of the finished install is not "replayed"');
    assert.equal(count(s, 'token.exchange'), exchanges, 'and exchanges nothing');
    const replay = await s.emulator.install({ sendWebhook: false, state, org: 'other' });
    assert.equal((await s.browse(replay.redirectUrl!)).status, 400);
    const forged = await s.emulator.install({ sendWebhook: false, state: `${Date.now()}.AAAAAAAAAAAAAAAAAAAAAA.${'A'.repeat(43)}`, org: 'third' });
    const res = await s.browse(forged.redirectUrl!);
    assert.equal(res.status, 400);
    assert.equal(await s.store.get(forged.installation.uuid), undefined);
  });

  it('signed state during a secret rotation: a link issued under SENTRY_CLIENT_SECRET_PREVIOUS still installs', T, async () => {
    const previous = 'a'.repeat(64);
    const s = await fresh({ env: { SENTRY_CLIENT_SECRET_PREVIOUS: previous } });
    const issuedBeforeRotation = createStateSigner(previous, s.emulator.clock).issue();
    const install = await s.emulator.install({ sendWebhook: false, state: issuedBeforeRotation });
    assert.equal((await s.browse(install.redirectUrl!)).status, 302);
    assert.equal((await s.store.get(install.installation.uuid))?.status, 'active');
    const stranger = await s.emulator.install({ sendWebhook: false, state: createStateSigner('b'.repeat(64), s.emulator.clock).issue(), org: 'other' });
    assert.equal((await s.browse(stranger.redirectUrl!)).status, 400);
  });

  it('/setup: after SETUP_FAILURE_LIMIT refused codes from one address, 429 with Retry-After and no call to Sentry, until 10 minutes pass', T, async () => {
    const s = await fresh({ env: { SETUP_FAILURE_LIMIT: '2' } });
    const pending = await s.emulator.install({ sendWebhook: false });
    const guess = (code: string) => `${s.url}/setup?installationId=${pending.installation.uuid}&code=${code}&orgSlug=acme`;
    assert.equal((await s.browse(guess('a'.repeat(32)))).status, 400);
    assert.equal((await s.browse(guess('b'.repeat(32)))).status, 400);
    assert.equal(count(s, 'token.exchange'), 2);
    const refused = await request(guess('c'.repeat(32)));
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], '600');
    assert.match(await refused.body.text(), /Try again in 600 s/);
    assert.equal((await s.browse(pending.redirectUrl!)).status, 429, 'the real code waits too: the address is what is limited');
    assert.equal(count(s, 'token.exchange'), 2, 'no exchange while limited');
    s.emulator.advanceClock(10 * 60_000);
    // The pending install's code has expired meanwhile: a new install, from the same address, goes through.
    const fresh2 = await s.emulator.install({ sendWebhook: false, org: 'other' });
    assert.equal((await s.browse(fresh2.redirectUrl!)).status, 302);
    assert.equal((await s.store.get(fresh2.installation.uuid))?.status, 'active');
    assert.ok(s.logger.records().some((r) => r.msg === 'setup refused: too many failed code exchanges from this address' && r.client === '127.0.0.1'), 'the operator sees who was limited');
  });

  it('/setup limit: a burst sent together is bounded too (running exchanges count), and limits are per client behind a trusted proxy', T, async () => {
    const s = await fresh({ env: { SETUP_FAILURE_LIMIT: '2' } });
    // A new made-up installation id each time: no two requests share an exchange (that is single-flight).
    const guess = (i: number, client = '198.51.100.7') => request(`${s.url}/setup?installationId=${randomUUID()}&code=${String(i).padStart(32, 'x')}&orgSlug=acme`, {
      headers: { 'x-forwarded-for': `10.9.9.9, ${client}` }, // the last entry is what our (loopback) proxy saw
    }).then(async (res) => { await res.body.dump(); return res.statusCode; });
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => guess(i)));
    assert.equal(count(s, 'token.exchange'), 2, `statuses ${burst.join(',')}`);
    assert.deepEqual(burst.filter((status) => status !== 429).sort(), [400, 400]);
    assert.equal(await guess(99), 429, 'that client is limited');
    assert.equal(await guess(100, '203.0.113.9'), 400, 'another client behind the same proxy is not');
    assert.equal(await guess(101, '::ffff:198.51.100.7'), 429, 'an IPv4-mapped spelling is the same client');
    assert.equal(count(s, 'token.exchange'), 3);
  });

  it('/setup limit: a refused request does not spend its state, and a reload after a completed install is never limited', T, async () => {
    const s = await fresh({ env: { SETUP_FAILURE_LIMIT: '1' } });
    const done = await s.emulator.install({ sendWebhook: false });
    assert.equal((await s.browse(done.redirectUrl!)).status, 302);
    const from = (client: string) => ({ headers: { 'x-forwarded-for': client } });
    const bogus = `${s.url}/setup?installationId=${done.installation.uuid}&code=${'z'.repeat(32)}&orgSlug=acme`;
    const other = await s.emulator.install({ sendWebhook: false, org: 'other' });
    assert.equal((await request(`${s.url}/setup?installationId=${other.installation.uuid}&code=${'z'.repeat(32)}&orgSlug=other`, from('192.0.2.1'))).statusCode, 400);
    const reload = await request(done.redirectUrl!, from('192.0.2.1'));
    assert.equal(reload.statusCode, 302, 'the completed install reloads from the store, limit or not');
    await reload.body.dump();
    assert.equal((await request(bogus, from('192.0.2.1'))).statusCode, 302, 'a made-up code for an installed id is answered from the store');
    const start = await s.browse(`${s.url}/setup/start`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const third = await s.emulator.install({ sendWebhook: false, state, org: 'third' });
    const limited = await request(third.redirectUrl!, from('192.0.2.1'));
    assert.equal(limited.statusCode, 429);
    assert.match(await limited.body.text(), /start the installation again from Sentry/);
    const elsewhere = await request(third.redirectUrl!, from('192.0.2.2'));
    assert.equal(elsewhere.statusCode, 302, 'the state was not spent by the refused request');
    await elsewhere.body.dump();
  });

  it('/setup limit with TRUST_PROXY=none: X-Forwarded-For is the client\'s own claim and is ignored', T, async () => {
    const s = await fresh({ env: { SETUP_FAILURE_LIMIT: '1', TRUST_PROXY: 'none' } });
    const pending = await s.emulator.install({ sendWebhook: false });
    const guess = (client: string) => request(`${s.url}/setup?installationId=${pending.installation.uuid}&code=${'q'.repeat(32)}&orgSlug=acme`, {
      headers: { 'x-forwarded-for': client },
    }).then(async (res) => { await res.body.dump(); return res.statusCode; });
    assert.equal(await guess('198.51.100.1'), 400);
    assert.equal(await guess('198.51.100.2'), 429, 'a new X-Forwarded-For does not make a new client');
  });

  it('webhook receiver: signature, size, JSON, method, unknown resources', T, async () => {
    const s = await fresh();
    const secret = s.emulator.app.clientSecret;
    const body = JSON.stringify({ action: 'created', installation: { uuid: '2ebf071f-28df-4989-aca9-c37c763b278f' }, data: { seer: {} }, actor: { type: 'application', id: 'sentry', name: 'Sentry' } });
    assert.equal((await postWebhook(s, body)).status, 401, 'missing signature');
    assert.equal((await postWebhook(s, body, { 'sentry-hook-signature': sign('wrong', body) })).status, 401);
    assert.equal((await postWebhook(s, body, { 'sentry-hook-signature': 'zz' })).status, 401);
    assert.equal((await postWebhook(s, body + ' ', { 'sentry-hook-signature': sign(secret, body) })).status, 401, 'tampered');
    assert.equal((await postWebhook(s, body, { 'sentry-hook-signature': sign(secret, body), 'sentry-hook-resource': 'seer' })).status, 200);
    assert.equal((await postWebhook(s, body, { 'sentry-app-signature': sign(secret, body) })).status, 200, 'UI-component header');
    assert.equal((await postWebhook(s, '', { 'sentry-app-signature': sign(secret, '') })).status, 200, 'empty body');
    assert.equal((await postWebhook(s, '{bad', { 'sentry-hook-signature': sign(secret, '{bad') })).status, 400);
    const big = Buffer.alloc((1 << 20) + 1, 0x20);
    assert.equal((await postWebhook(s, big, { 'sentry-hook-signature': sign(secret, big) })).status, 413);
    assert.equal((await postWebhook(s, '', {}, 'GET')).status, 405);
    const badInstall = JSON.stringify({ action: 'created', installation: { uuid: '../x' }, data: {} });
    assert.equal((await postWebhook(s, badInstall, { 'sentry-hook-signature': sign(secret, badInstall), 'sentry-hook-resource': 'installation' })).status, 400);
    const res = await request(`${s.url}/nope`);
    assert.equal(res.statusCode, 404);
    await res.body.dump();
    // A Request-ID is logged, but a client's 8 KB one only as a bounded prefix.
    const longId = `${'ab'.repeat(16)}${'x'.repeat(8000)}`;
    assert.equal((await postWebhook(s, body, { 'sentry-hook-signature': sign(secret, body), 'sentry-hook-resource': 'seer', 'request-id': longId })).status, 200);
    const logged = s.logger.lines.filter((l) => l.includes(`"sentryRequestId":"${'ab'.repeat(16)}`));
    assert.ok(logged.length > 0);
    for (const line of logged) assert.ok(!line.includes('x'.repeat(65)), 'the whole header was logged');
    // Previous secret accepted during a rotation.
    const s2 = await fresh({ env: { SENTRY_CLIENT_SECRET_PREVIOUS: 'old-secret' } });
    assert.equal((await postWebhook(s2, body, { 'sentry-hook-signature': sign('old-secret', body), 'sentry-hook-resource': 'seer' })).status, 200);
  });

  it('hands other resources to the pluggable handler', T, async () => {
    const seen: string[] = [];
    const s = await fresh({ server: { onWebhook: (r) => { seen.push(`${r.resource}.${r.envelope?.action}`); return { status: 202 }; } } });
    const { id } = await installViaRedirect(s);
    const { delivery } = await s.emulator.emitIssue({ installationId: id });
    assert.equal(delivery?.attempts[0]?.status, 202);
    assert.deepEqual(seen, ['issue.created']);
  });

  it('uninstall purges tokens (no file in DATA_DIR holds them) and nothing is sent afterwards', T, async () => {
    const s = await fresh();
    const { id } = await installViaRedirect(s);
    const record = (await s.store.get(id))!;
    const delivery = await s.emulator.uninstall(id);
    assert.equal(delivery?.attempts[0]?.status, 200);
    assert.equal(await s.store.get(id), undefined);
    for (const name of await readdir(s.dataDir)) {
      const bytes = await readFile(join(s.dataDir, name)).catch(() => Buffer.alloc(0));
      assert.ok(!bytes.includes(record.token) && !bytes.includes(record.refreshToken), `${name} holds a token`);
    }
    const before = s.emulator.requests().length;
    s.emulator.advanceClock(9 * 3600_000);
    await assert.rejects(s.app.tokens.withToken(id, (t) => s.api.getOrganization(t, 'acme')), /unknown installation/);
    assert.equal(s.emulator.requests().length, before);
    // A late installation.created for it with a stale code changes nothing; deleted for an unknown install → 2xx.
    const again = await s.emulator.uninstall(id).catch(() => undefined);
    assert.ok(again === undefined || again.attempts.every((a) => a.status < 300));
  });

  it('restart: tokens survive and work', T, async () => {
    const s = await fresh();
    const { id } = await installViaRedirect(s);
    const token = (await s.store.get(id))!.token;
    await s.stop({ keepEmulator: true, keepDir: true });
    stack = await startStack({ sentry: s.emulator, dataDir: s.dataDir });
    assert.equal((await stack.store.get(id))?.token, token);
    const org = await stack.app.tokens.withToken(id, (t) => stack!.api.getOrganization(t, 'acme'));
    assert.equal(org.slug, 'acme');
    await stack.stop({ keepEmulator: true });
    await s.emulator.close();
    await s.stop().catch(() => {});
    stack = undefined;
  });

  it('/healthz reports installations and needs-reauth', T, async () => {
    const s = await fresh({ server: { health: () => ({ outbox: { pending: 0 } }) } });
    await installViaRedirect(s);
    const res = await request(`${s.url}/healthz`);
    const body = await res.body.json() as Record<string, unknown>;
    assert.equal(res.statusCode, 200);
    assert.equal(body.ok, true);
    assert.equal(body.installations, 1);
    assert.deepEqual(body.needsReauth, []);
    assert.deepEqual(body.outbox, { pending: 0 });
  });

  it('/healthz with HEALTHZ_TOKEN: details only to its bearer, `{"ok":true}` to others, 401 to a wrong token; never logged', T, async () => {
    const token = 'healthz-token-0123456789';
    const s = await fresh({ env: { HEALTHZ_TOKEN: token }, server: { health: () => ({ outbox: { pending: 0 } }) } });
    await installViaRedirect(s);
    const probe = async (authorization?: string) => {
      const res = await request(`${s.url}/healthz`, authorization ? { headers: { authorization } } : {});
      return { status: res.statusCode, body: await res.body.json() as Record<string, unknown>, challenge: res.headers['www-authenticate'] };
    };
    assert.deepEqual(await probe(), { status: 200, body: { ok: true }, challenge: undefined });
    const full = await probe(`Bearer ${token}`);
    assert.equal(full.status, 200);
    assert.equal(full.body.installations, 1);
    assert.deepEqual(full.body.outbox, { pending: 0 });
    assert.equal((await probe(`bearer ${token}`)).body.installations, 1, 'the scheme is case-insensitive');
    for (const wrong of [`Bearer ${token}x`, 'Bearer short', `Basic ${token}`, 'Bearer']) {
      assert.deepEqual(await probe(wrong), { status: 401, body: { error: 'invalid HEALTHZ_TOKEN bearer' }, challenge: 'Bearer' }, wrong);
    }
    assert.ok(!s.logger.lines.join('\n').includes(token), 'the token reached the log');
  });

  it('/healthz probes that arrive together share one store scan; the next probe scans again', T, async () => {
    let scans = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const s = await fresh({ server: { health: async () => { scans++; await gate; return { scan: scans }; } } });
    await installViaRedirect(s);
    const probes = 20;
    let arrived = 0;
    // Every probe has joined (or started) the scan by the time its 'request' event has run.
    s.app.server.on('request', (req) => { if (req.url === '/healthz' && ++arrived === probes) setImmediate(release); });
    const answers = await Promise.all(Array.from({ length: probes }, async () => {
      const res = await request(`${s.url}/healthz`);
      return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> };
    }));
    assert.equal(scans, 1);
    for (const a of answers) assert.deepEqual([a.status, a.body.installations, a.body.scan], [200, 1, 1]);
    const later = await request(`${s.url}/healthz`);
    assert.equal((await later.body.json() as Record<string, unknown>).scan, 2);
  });
});
