import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Agent } from 'undici';
import {
  PUSHOVER_EMULATOR_TOKEN as TOKEN,
  PUSHOVER_EMULATOR_USER as USER,
  randomPushoverKey,
  startPushoverEmulator,
  type PushoverEmulator,
} from '../../conformance/pushover.ts';
import { manualClock } from '../clock.ts';
import {
  backoffDelay,
  createPushoverClient,
  pushoverOptionsFromEnv,
  PushoverConfigError,
  type PushoverClient,
  type PushoverClientOptions,
  type SendResult,
} from './client.ts';
import { formatIssueNotification } from './format.ts';

const T = { timeout: 15_000 };

function expectKind<K extends SendResult['kind']>(r: SendResult, kind: K): Extract<SendResult, { kind: K }> {
  assert.equal(r.kind, kind, `expected ${kind}, got ${JSON.stringify(r)}`);
  return r as Extract<SendResult, { kind: K }>;
}

describe('Pushover client against the emulator', T, () => {
  const clock = manualClock(Date.parse('2026-06-10T12:00:00Z'));
  let po: PushoverEmulator;
  const clients: PushoverClient[] = [];
  const client = (extra: Partial<PushoverClientOptions> = {}, emulator = po) => {
    const c = createPushoverClient({ baseUrl: emulator.url, token: TOKEN, user: USER, clock, random: () => 0, retryMinMs: 5000, ...extra });
    clients.push(c);
    return c;
  };
  before(async () => { po = await startPushoverEmulator({ clock }); });
  afterEach(async () => {
    po.clearFaults();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => { await po.close(); });

  it('ok: 200 status 1 → request id; every field and the tags reach Pushover form-encoded', T, async () => {
    const c = client({ sound: 'bike', device: 'phone' });
    const r = expectKind(await c.send({ title: 'T', message: 'M', url: 'https://x.test/1', url_title: 'Open', level: 'fatal', tags: 'sik-1', timestamp: 1700000000.7 }), 'ok');
    const m = po.messages().at(-1)!;
    assert.equal(r.request, m.request);
    assert.equal(m.encoding, 'form');
    assert.deepEqual({ ...m.params, token: undefined, user: undefined }, {
      token: undefined, user: undefined, message: 'M', title: 'T', url: 'https://x.test/1', url_title: 'Open',
      priority: '1', sound: 'bike', device: 'phone', timestamp: '1700000000', tags: 'sik-1',
    });
    assert.equal(m.token, TOKEN);
    assert.deepEqual(c.quota(), { limit: 10000, remaining: po.quota().remaining, reset: po.quota().reset, lowQuota: false });
  });

  it('permanent: unknown token and unknown user are named clearly, never echoed, not retried', T, async () => {
    const badToken = randomPushoverKey();
    const t = expectKind(await client({ token: badToken }).send({ message: 'x' }), 'permanent');
    assert.equal(t.reason, 'token');
    assert.equal(t.status, 400);
    assert.match(t.detail, /app token/);
    assert.ok(!JSON.stringify(t).includes(badToken));
    const badUser = randomPushoverKey();
    const u = expectKind(await client({ user: badUser }).send({ message: 'x' }), 'permanent');
    assert.equal(u.reason, 'user');
    assert.match(u.detail, /user key/);
    assert.ok(!JSON.stringify(u).includes(badUser));
  });

  it('permanent: other 4xx (input), 200 with status 0, and a non-JSON 404 (wrong base URL)', T, async () => {
    const strict = await startPushoverEmulator({ unknownSound: 'reject' });
    try {
      const input = expectKind(await client({}, strict).send({ message: 'x', sound: 'nosuchsound' }), 'permanent');
      assert.equal(input.reason, 'input');
      assert.deepEqual(input.fields, { sound: 'is invalid' });
      assert.deepEqual(input.errors, ['sound is invalid']);
    } finally {
      await strict.close();
    }
    po.inject({ kind: 'status-0' });
    assert.equal(expectKind(await client().send({ message: 'x' }), 'permanent').reason, 'status');
    const wrong = expectKind(await client({ baseUrl: `${po.url}/wrong` }).send({ message: 'x' }), 'permanent');
    assert.equal(wrong.reason, 'http');
    assert.equal(wrong.status, 404);
  });

  it('retry: HTML 5xx, JSON 5xx, HTML 429 and bad JSON, each with retryAt ≥ now + retryMinMs, backoff growing, bounded', T, async () => {
    const c = client({ maxAttempts: 3 });
    po.inject({ kind: 'status', status: 503 });
    po.inject({ kind: 'status', status: 500, body: '{"status":0,"errors":["boom"]}', contentType: 'application/json' });
    po.inject({ kind: 'status', status: 429 });
    po.inject({ kind: 'bad-json' });
    const causes: string[] = [];
    const maybe: boolean[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = expectKind(await c.send({ message: `x${i}` }), 'retry');
      causes.push(r.cause);
      maybe.push(r.maybeDelivered);
      delays.push(r.retryAt - clock.now());
      assert.equal(r.attempt, i + 1);
      assert.equal(r.exhausted, i + 1 >= 3);
    }
    assert.deepEqual(causes, ['html', 'server', 'throttled', 'bad-json']);
    assert.deepEqual(delays, [5000, 10000, 20000, 40000]);
    // Only the unreadable 200 may be an accepted message; error answers are not.
    assert.deepEqual(maybe, [false, false, false, true]);
    expectKind(await c.send({ message: 'ok' }), 'ok');
    // After a success the count starts again; an explicit attempt overrides it.
    po.inject({ kind: 'status', status: 502 });
    const again = expectKind(await c.send({ message: 'y' }, { attempt: 2 }), 'retry');
    assert.equal(again.retryAt - clock.now(), 10000);
    assert.equal(again.status, 502);
  });

  it('retry: a dropped connection and a lost reply (message was stored: at-least-once)', T, async () => {
    const c = client();
    po.inject({ kind: 'drop' });
    const d = expectKind(await c.send({ message: 'x' }), 'retry');
    assert.equal(d.cause, 'network');
    assert.ok(d.retryAt >= clock.now() + 5000);
    assert.equal(d.maybeDelivered, true, 'the connection was up: the answer may be what was lost');
    const before = po.messages({ tags: 'lost-1' }).length;
    po.inject({ kind: 'accept-then-drop' });
    const lost = expectKind(await c.send({ message: 'x', tags: 'lost-1' }), 'retry');
    assert.equal(lost.maybeDelivered, true);
    assert.equal(po.messages({ tags: 'lost-1' }).length, before + 1);
    expectKind(await c.send({ message: 'next' }), 'ok'); // the pool recovers
  });

  it('retry: nothing listening (connection refused) → network, not maybe delivered', T, async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const c = client({ baseUrl: `http://127.0.0.1:${port}` });
    const r = expectKind(await c.send({ message: 'x' }), 'retry');
    assert.equal(r.cause, 'network');
    assert.match(r.detail, /ECONNREFUSED/);
    assert.equal(r.maybeDelivered, false);
  });

  it('retry: a slow answer past the client timeout → timeout, and the next send works', T, async () => {
    const c = client({ timeoutMs: 100 });
    po.inject({ kind: 'latency', ms: 400 });
    const r = expectKind(await c.send({ message: 'slow' }), 'retry');
    assert.equal(r.cause, 'timeout');
    assert.equal(r.maybeDelivered, true, 'a request sent and not answered in time may have been accepted');
    assert.ok(r.retryAt >= clock.now() + 5000);
    expectKind(await c.send({ message: 'fast' }), 'ok');
  });

  it('at most 2 in flight over one keep-alive connection (measured on the emulator)', T, async () => {
    const c = client();
    po.resetStats();
    po.inject({ kind: 'latency', ms: 30, count: 6 });
    let peakClient = 0;
    const sends = Array.from({ length: 6 }, (_, i) => c.send({ message: `n${i}` }));
    const watch = setInterval(() => { peakClient = Math.max(peakClient, c.inFlight()); }, 5);
    const results = await Promise.all(sends);
    clearInterval(watch);
    assert.deepEqual(results.map((r) => r.kind), Array(6).fill('ok'));
    assert.ok(po.stats().peakInFlight <= 2, `peak ${po.stats().peakInFlight}`);
    assert.equal(po.stats().connections, 1);
    assert.ok(peakClient <= 2);
  });

  it('with an injected many-connection dispatcher the semaphore still caps in-flight at 2', T, async () => {
    const agent = new Agent({ connections: 10 });
    try {
      const c = client({ dispatcher: agent });
      po.resetStats();
      po.inject({ kind: 'latency', ms: 250, count: 5 });
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => c.send({ message: `a${i}` })));
      assert.deepEqual(results.map((r) => r.kind), Array(5).fill('ok'));
      assert.equal(po.stats().peakInFlight, 2);
    } finally {
      await agent.close();
    }
  });

  it('emergency: level→priority 2 uses the default retry/expire and returns a receipt; bad values refused locally', T, async () => {
    const c = client({ priorities: { fatal: 2 }, emergency: { retry: 30, expire: 10800 } });
    const ok = expectKind(await c.send({ message: 'down', level: 'fatal', tags: 'sik-e', ttl: 60 }), 'ok');
    assert.match(ok.receipt ?? '', /^[A-Za-z0-9]{30}$/);
    const m = po.messages().at(-1)!;
    assert.deepEqual([m.params.priority, m.params.retry, m.params.expire, m.params.ttl], ['2', '30', '10800', undefined]);
    const count = po.requests().length;
    for (const bad of [{ retry: 29 }, { expire: 10801 }, { expire: 0 }]) {
      assert.equal(expectKind(await c.send({ message: 'x', priority: 2, ...bad }), 'permanent').reason, 'local');
    }
    assert.equal(expectKind(await c.send({ message: 'x', priority: 3 }), 'permanent').reason, 'local');
    assert.equal(po.requests().length, count, 'nothing sent');
  });

  it('fits fields locally: an over-long title/message and a 600-char URL pass an emulator in reject mode', T, async () => {
    const warnings: string[] = [];
    const c = client({ onWarning: (w) => warnings.push(w) });
    const url = `https://x.test/${'p'.repeat(600)}`;
    expectKind(await c.send({ message: '😀'.repeat(1100), title: 'é'.repeat(300), url, url_title: 'Open', html: true, monospace: true }), 'ok');
    const m = po.messages().at(-1)!;
    assert.equal(m.params.url, undefined);
    assert.equal(m.params.url_title, undefined);
    assert.equal(Array.from(m.params.message!).length, 1024);
    assert.equal(Array.from(m.params.title!).length, 250);
    assert.equal(m.params.monospace, undefined);
    assert.equal(m.params.html, '1');
    assert.deepEqual(warnings, ['Pushover message shortened to fit limits: url, message, title']);
    expectKind(await c.send({ message: '   ' }), 'ok');
    assert.equal(po.messages().at(-1)!.params.message, '(no details)');
  });

  it('200 without X-Limit-App-* is still ok', T, async () => {
    po.inject({ kind: 'no-limit-headers' });
    expectKind(await client().send({ message: 'x' }), 'ok');
  });

  it('formatIssueNotification output goes through unchanged (dedupe key in tags)', T, async () => {
    const msg = formatIssueNotification({ title: 'Boom 💥', project: { slug: 'api' }, level: 'error', count: '2', shortId: 'API-1', permalink: 'https://acme.sentry.io/issues/1/' }, { tags: 'sik-dedupe-1' });
    expectKind(await client().send(msg), 'ok');
    const m = po.messages({ tags: 'sik-dedupe-1' });
    assert.equal(m.length, 1);
    assert.equal(m[0]!.params.title, '[api] Boom 💥');
    assert.equal(m[0]!.params.url_title, 'Open in Sentry');
    assert.equal(m[0]!.params.priority, '0');
  });
});

describe('Pushover client: quota 429 pauses until the reset (injected clock)', T, () => {
  const clock = manualClock(Date.parse('2026-02-20T12:00:00Z'));
  let po: PushoverEmulator;
  before(async () => { po = await startPushoverEmulator({ clock, quota: 10 }); });
  after(async () => { await po.close(); });

  it('low quota flagged below 10 %, 429 → quota until X-Limit-App-Reset, no request while paused, resumes after', T, async () => {
    const warnings: string[] = [];
    const c = createPushoverClient({ baseUrl: po.url, token: TOKEN, user: USER, clock, onWarning: (w) => warnings.push(w) });
    try {
      po.setQuota({ remaining: 2 });
      expectKind(await c.send({ message: 'a' }), 'ok');
      assert.equal(c.quota().lowQuota, false); // 1 of 10 left = 10 %, not below
      expectKind(await c.send({ message: 'b' }), 'ok');
      assert.deepEqual({ ...c.quota(), reset: undefined }, { limit: 10, remaining: 0, reset: undefined, lowQuota: true });
      assert.deepEqual(warnings, ['Pushover quota low: 0 of 10 messages left this month']);
      const reset = po.quota().reset * 1000;
      assert.equal(reset, Date.parse('2026-03-01T06:00:00Z')); // CST
      const q = expectKind(await c.send({ message: 'c' }), 'quota');
      assert.deepEqual([q.resumeAt, q.sent], [reset, true]);
      const requests = po.requests().length;
      clock.set(reset - 1);
      const paused = expectKind(await c.send({ message: 'd' }), 'quota');
      assert.deepEqual([paused.resumeAt, paused.sent], [reset, false]);
      assert.equal(po.requests().length, requests, 'no request while paused');
      assert.equal(c.quota().pausedUntil, reset);
      clock.set(reset);
      expectKind(await c.send({ message: 'e' }), 'ok');
      assert.equal(c.quota().remaining, 9);
      assert.equal(c.quota().lowQuota, false);
    } finally {
      await c.close();
    }
  });
});

describe('Pushover client: configuration', () => {
  const token = 'aSecretAppTokenValue0123456789';
  const user = 'uSecretUserKeyValue01234567890';

  it('rejects malformed keys with a clear error that never contains the key', () => {
    for (const [opts, pattern] of [
      [{ token: `${token} `, user }, /app token \(PUSHOVER_TOKEN\) must be 30 characters of \[A-Za-z0-9\] \(got 31 characters\)/],
      [{ token: token.slice(1), user }, /got 29 characters/],
      [{ token, user: `${user},bad-key` }, /user key #2 \(PUSHOVER_USER\) must be 30 characters/],
      [{ token, user: user.replace('0', '_') }, /user key \(PUSHOVER_USER\) must be/],
      [{ token, user: Array(51).fill(user).join(',') }, /51 keys; at most 50/],
      [{ token, user, device: 'my phone' }, /device names \(PUSHOVER_DEVICE\)/],
      [{ token, user, priorities: { error: 3 } }, /priority for error \(PUSHOVER_PRIORITIES\)/],
      [{ token, user, emergency: { retry: 29, expire: 60 } }, /retry \(PUSHOVER_EMERGENCY_RETRY\) must be an integer ≥ 30/],
      [{ token, user, emergency: { retry: 30, expire: 10801 } }, /expire \(PUSHOVER_EMERGENCY_EXPIRE\) must be an integer from 1 to 10800/],
      [{ token, user, baseUrl: 'ftp://x' }, /http\(s\)/],
    ] as Array<[PushoverClientOptions, RegExp]>) {
      assert.throws(() => createPushoverClient(opts), (err: unknown) => {
        assert.ok(err instanceof PushoverConfigError);
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes(token.slice(0, 12)) && !err.message.includes(user.slice(0, 12)), 'no key in the message');
        return true;
      });
    }
  });

  it('reads PUSHOVER_* variables', () => {
    const o = pushoverOptionsFromEnv({
      PUSHOVER_TOKEN: token, PUSHOVER_USER: user, PUSHOVER_DEVICE: 'phone', PUSHOVER_SOUND: 'bike',
      PUSHOVER_PRIORITIES: 'fatal=2, error=1', PUSHOVER_EMERGENCY_RETRY: '45',
    });
    assert.deepEqual(o, {
      baseUrl: 'https://api.pushover.net', token, user, device: 'phone', sound: 'bike',
      priorities: { fatal: 2, error: 1 }, emergency: { retry: 45, expire: 3600 },
    });
    assert.throws(() => pushoverOptionsFromEnv({ PUSHOVER_USER: user }), /PUSHOVER_TOKEN is not set/);
    assert.throws(() => pushoverOptionsFromEnv({ PUSHOVER_TOKEN: token, PUSHOVER_USER: user, PUSHOVER_PRIORITIES: 'loud=9' }), /PUSHOVER_PRIORITIES/);
  });

  it('backoff is exponential, jittered upward only, never below the minimum, bounded', () => {
    assert.deepEqual([1, 2, 3, 4].map((a) => backoffDelay(a, 5000, 300_000, () => 0)), [5000, 10000, 20000, 40000]);
    assert.equal(backoffDelay(1, 5000, 300_000, () => 0.999), 7498);
    assert.equal(backoffDelay(20, 5000, 300_000, () => 0), 300_000);
    assert.ok(backoffDelay(20, 5000, 300_000, () => 0.999) <= 450_000);
    assert.equal(backoffDelay(1, 50, 1000, () => 0), 50);
  });
});
