import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { FormData, request } from 'undici';
import { manualClock } from '../src/clock.ts';
import { nextQuotaReset } from '../src/pushover/limits.ts';
import {
  PUSHOVER_EMULATOR_TOKEN,
  PUSHOVER_EMULATOR_USER,
  randomPushoverKey,
  startPushoverEmulator,
  type PushoverEmulator,
} from './pushover.ts';

const T = { timeout: 15_000 };
const TOKEN = PUSHOVER_EMULATOR_TOKEN;
const USER = PUSHOVER_EMULATOR_USER;

interface Reply { status: number; headers: Headers; text: string; json: Record<string, unknown> | undefined }

/** One request through undici (unlike Deno's fetch, it never silently re-sends a POST whose connection dropped). */
async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | URLSearchParams | FormData } = {}): Promise<Reply> {
  const body = init.body instanceof URLSearchParams ? init.body.toString() : init.body;
  const headers = { ...(init.body instanceof URLSearchParams ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...init.headers };
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers, body });
  const text = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = undefined; }
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
  return { status: res.statusCode, headers: h, text, json };
}
const form = (po: PushoverEmulator, params: Record<string, string>, path = '/1/messages.json') =>
  call(po.url + path, { method: 'POST', body: new URLSearchParams(params) });
const send = (po: PushoverEmulator, extra: Record<string, string> = {}) =>
  form(po, { token: TOKEN, user: USER, message: 'hello', ...extra });

/** The body minus its random request id. */
function withoutRequest(json: Record<string, unknown> | undefined): Record<string, unknown> {
  const { request, ...rest } = json ?? {};
  assert.match(String(request), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  return rest;
}

describe('Pushover emulator: messages.json', T, () => {
  let po: PushoverEmulator;
  before(async () => { po = await startPushoverEmulator(); });
  after(async () => { await po.close(); });

  it('accepts a form message: 200 status 1, request id header = body, limit headers, full record', T, async () => {
    const r = await send(po, { title: 'T', tags: 'sik-abc,other', priority: '1', sound: 'bike', device: 'phone', url: 'tel:123' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(withoutRequest(r.json), { status: 1 });
    assert.equal(r.headers.get('x-request-id'), r.json?.request);
    assert.equal(r.headers.get('x-limit-app-limit'), '10000');
    assert.equal(r.headers.get('x-limit-app-remaining'), '9999');
    assert.match(r.headers.get('x-limit-app-reset') ?? '', /^\d{10}$/);
    const m = po.messages({ tags: 'sik-abc' });
    assert.equal(m.length, 1);
    assert.equal(m[0]!.encoding, 'form');
    assert.equal(m[0]!.request, r.json?.request);
    assert.deepEqual(m[0]!.users, [USER]);
    assert.deepEqual(m[0]!.devices, ['phone']);
    assert.equal(m[0]!.params.tags, 'sik-abc,other');
    assert.equal(m[0]!.params.sound, 'bike');
  });

  it('accepts JSON with numbers and returns a receipt for priority 2', T, async () => {
    const r = await call(po.url + '/1/messages.json', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN, user: USER, message: 'json ✓', priority: 2, retry: 30, expire: 10800, tags: 'e1' }),
    });
    assert.equal(r.status, 200);
    assert.match(String(r.json?.receipt), /^[A-Za-z0-9]{30}$/);
    const m = po.messages().at(-1)!;
    assert.equal(m.encoding, 'json');
    assert.equal(m.params.message, 'json ✓');
    assert.equal(m.receipt, r.json?.receipt);
  });

  it('accepts multipart with an image attachment and records its bytes, type and name', T, async () => {
    const fd = new FormData();
    fd.set('token', TOKEN);
    fd.set('user', USER);
    fd.set('message', 'with image');
    fd.set('attachment', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }), 'a.png');
    const r = await call(po.url + '/1/messages.json', { method: 'POST', body: fd });
    assert.equal(r.status, 200);
    const m = po.messages().at(-1)!;
    assert.equal(m.encoding, 'multipart');
    assert.deepEqual(m.attachment && { ...m.attachment, bytes: [...m.attachment.bytes] },
      { filename: 'a.png', type: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47], base64: false });
  });

  it('reads POST query-string parameters (undocumented) and records them as such', T, async () => {
    const q = new URLSearchParams({ token: TOKEN, user: USER, message: 'from query' });
    const r = await call(`${po.url}/1/messages.json?${q}`, { method: 'POST' });
    assert.equal(r.status, 200);
    const m = po.messages().at(-1)!;
    assert.equal(m.encoding, 'query');
    assert.deepEqual(m.fromQuery.sort(), ['message', 'token', 'user']);
  });

  it('unknown device → 200, delivered (recorded) with the devices named', T, async () => {
    const r = await send(po, { device: 'nosuchdevice' });
    assert.equal(r.status, 200);
    assert.deepEqual(po.messages().at(-1)!.devices, ['nosuchdevice']);
  });

  it('accepts exactly-at-limit fields counted in code points (1024 emoji = 2048 UTF-16 units)', T, async () => {
    const r = await send(po, { message: '😀'.repeat(1024), title: 't'.repeat(250), url: 'u'.repeat(512), url_title: 'x'.repeat(100) });
    assert.equal(r.status, 200);
  });

  it('wrong method or unknown path → 404 HTML, recorded as unknown', T, async () => {
    for (const [method, path] of [['GET', '/1/messages.json'], ['POST', '/1/nothing.json'], ['GET', '/']] as const) {
      const r = await call(po.url + path, { method });
      assert.equal(r.status, 404);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.match(r.text, /Resource Not Found \(or Incorrect Method\)/);
      assert.equal(r.json, undefined);
    }
    assert.ok(po.requests({ endpoint: 'unknown' }).length >= 3);
  });

  // Every row of pushover-api.md §4.3 that a request can trigger, plus the [U] choices at their defaults.
  const over = (n: number) => 'a'.repeat(n);
  const rows: Array<[string, Record<string, string | undefined>, number, Record<string, unknown>]> = [
    ['message missing', { message: undefined }, 400, { message: 'cannot be blank', errors: ['message cannot be blank'] }],
    ['message blank', { message: '   ' }, 400, { message: 'cannot be blank', errors: ['message cannot be blank'] }],
    ['token missing', { token: undefined }, 400, { token: 'invalid', errors: ['application token is invalid'] }],
    ['token malformed', { token: 'short' }, 400, { token: 'invalid', errors: ['application token is invalid'] }],
    ['token unknown', { token: randomPushoverKey() }, 400, { token: 'invalid', errors: ['application token is invalid'] }],
    ['user missing', { user: undefined }, 400, { user: 'invalid', errors: ['user identifier is not a valid user, group, or subscribed user key'] }],
    ['user malformed', { user: `${USER} ` }, 400, { user: 'invalid', errors: ['user identifier is not a valid user, group, or subscribed user key'] }],
    ['user unknown', { user: randomPushoverKey() }, 400, { user: 'invalid', errors: ['user identifier is not a valid user, group, or subscribed user key'] }],
    ['more than 50 users', { user: Array(51).fill(USER).join(',') }, 400, { user: 'invalid', errors: ['user list has more than 50 keys'] }],
    ['html and monospace', { html: '1', monospace: '1' }, 400,
      { html: 'cannot be set with monospace', monospace: 'cannot be set with html', errors: ['html and monospace are mutually exclusive'] }],
    ['priority 3', { priority: '3' }, 400, { priority: 'is invalid, can only be -2, -1, 0, 1, or 2', errors: ['priority is invalid'] }],
    ['priority 1.5', { priority: '1.5' }, 400, { priority: 'is invalid, can only be -2, -1, 0, 1, or 2', errors: ['priority is invalid'] }],
    ['priority 2 without expire', { priority: '2', retry: '30' }, 400, { expire: 'must be supplied with priority=2', errors: ['expire must be supplied with priority=2'] }],
    ['priority 2 without retry', { priority: '2', expire: '60' }, 400, { retry: 'must be supplied with priority=2', errors: ['retry must be supplied with priority=2'] }],
    ['retry 29', { priority: '2', retry: '29', expire: '60' }, 400, { retry: 'is too small, must be at least 30 seconds', errors: ['retry is invalid'] }],
    ['retry 0', { priority: '2', retry: '0', expire: '60' }, 400, { retry: 'is too small, must be at least 30 seconds', errors: ['retry is invalid'] }],
    ['expire 10801 (reject by default) [U]', { priority: '2', retry: '30', expire: '10801' }, 400, { expire: 'is too large, must be at most 10800 seconds', errors: ['expire is invalid'] }],
    ['float timestamp', { timestamp: '1700000000.5' }, 400, { timestamp: 'is invalid', errors: ['timestamp is invalid'] }],
    ['ttl 0 [U]', { ttl: '0' }, 400, { ttl: 'is invalid', errors: ['ttl is invalid'] }],
    ['message 1025 [U]', { message: over(1025) }, 400, { message: 'is too long', errors: ['message is too long, must be at most 1024 characters'] }],
    ['title 251 [U]', { title: over(251) }, 400, { title: 'is too long', errors: ['title is too long, must be at most 250 characters'] }],
    ['url 513 [U]', { url: over(513) }, 400, { url: 'is too long', errors: ['url is too long, must be at most 512 characters'] }],
    ['url_title 101 [U]', { url_title: over(101) }, 400, { url_title: 'is too long', errors: ['url_title is too long, must be at most 100 characters'] }],
    ['base64 attachment without type [U]', { attachment_base64: 'iVBORw==' }, 400,
      { attachment_type: 'must be supplied with attachment_base64', errors: ['attachment_type must be supplied with attachment_base64'] }],
    ['invalid base64 [U]', { attachment_base64: '!!!', attachment_type: 'image/png' }, 400, { attachment_base64: 'is invalid', errors: ['attachment_base64 is invalid'] }],
  ];
  for (const [name, change, status, body] of rows) {
    it(`error catalogue: ${name} → ${status}`, T, async () => {
      const params: Record<string, string> = { token: TOKEN, user: USER, message: 'hello' };
      for (const [k, v] of Object.entries(change)) {
        if (v === undefined) delete params[k];
        else params[k] = v;
      }
      const before = po.messages().length;
      const r = await form(po, params);
      assert.equal(r.status, status);
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(withoutRequest(r.json), { ...body, status: 0 });
      assert.equal(r.headers.get('x-request-id'), r.json?.request);
      // A 400 carries no X-Limit-App-* (known for a bad token; the default for the rest [U]).
      assert.equal(r.headers.get('x-limit-app-remaining'), null);
      assert.equal(po.messages().length, before);
    });
  }

  it('attachment over 5,242,880 bytes → 400 with the observed text (and exactly the limit is fine)', T, async () => {
    const post = (size: number) => {
      const fd = new FormData();
      fd.set('token', TOKEN); fd.set('user', USER); fd.set('message', 'big');
      fd.set('attachment', new Blob([new Uint8Array(size)], { type: 'image/jpeg' }), 'big.jpg');
      return call(po.url + '/1/messages.json', { method: 'POST', body: fd });
    };
    assert.equal((await post(5_242_880)).status, 200);
    const r = await post(5_242_881);
    assert.equal(r.status, 400);
    assert.deepEqual(r.json?.errors, ['attachment is too large (5242881 bytes is more than 5242880 limit']);
  });

  it('several invalid fields → one 400 with every field key', T, async () => {
    const r = await form(po, { token: TOKEN, user: 'bad', priority: '9' });
    assert.equal(r.status, 400);
    assert.equal(r.json?.user, 'invalid');
    assert.equal(r.json?.message, 'cannot be blank');
    assert.equal(r.json?.priority, 'is invalid, can only be -2, -1, 0, 1, or 2');
    assert.equal((r.json?.errors as string[]).length, 3);
  });

  it('an XML body is not understood → token invalid', T, async () => {
    const r = await call(po.url + '/1/messages.json', {
      method: 'POST', headers: { 'content-type': 'application/xml' },
      body: `<message><token>${TOKEN}</token><user>${USER}</user><message>x</message></message>`,
    });
    assert.equal(r.status, 400);
    assert.equal(r.json?.token, 'invalid');
  });
});

describe('Pushover emulator: policies for unconfirmed behaviour', T, () => {
  const started: PushoverEmulator[] = [];
  const start = async (o: Parameters<typeof startPushoverEmulator>[0]) => {
    const po = await startPushoverEmulator(o);
    started.push(po);
    return po;
  };
  afterEach(async () => { await Promise.all(started.splice(0).map((p) => p.close())); });

  it('overLength truncate: over-long fields are cut silently to the limit in code points', T, async () => {
    const po = await start({ overLength: 'truncate' });
    const r = await send(po, { message: '😀'.repeat(1030), title: 'é'.repeat(260) });
    assert.equal(r.status, 200);
    const m = po.messages()[0]!;
    assert.equal(Array.from(m.params.message!).length, 1024);
    assert.equal(m.params.message, '😀'.repeat(1024));
    assert.equal(Array.from(m.params.title!).length, 250);
  });

  it('expireAboveMax clamp and accept', T, async () => {
    const clamp = await start({ expireAboveMax: 'clamp' });
    assert.equal((await send(clamp, { priority: '2', retry: '30', expire: '86400' })).status, 200);
    assert.equal(clamp.messages()[0]!.params.expire, '10800');
    const accept = await start({ expireAboveMax: 'accept' });
    assert.equal((await send(accept, { priority: '2', retry: '30', expire: '86400' })).status, 200);
    assert.equal(accept.messages()[0]!.params.expire, '86400');
  });

  it('unknownSound reject: custom sounds pass, unknown → 400', T, async () => {
    const po = await start({ unknownSound: 'reject', customSounds: { ding: 'Ding' } });
    assert.equal((await send(po, { sound: 'ding' })).status, 200);
    assert.equal((await send(po, { sound: 'siren' })).status, 200);
    const r = await send(po, { sound: 'nope' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json?.errors, ['sound is invalid']);
  });

  it('queryParams false ignores the query string of a POST', T, async () => {
    const po = await start({ queryParams: false });
    const q = new URLSearchParams({ token: TOKEN, user: USER, message: 'x' });
    const r = await call(`${po.url}/1/messages.json?${q}`, { method: 'POST' });
    assert.equal(r.status, 400);
    assert.equal(r.json?.token, 'invalid');
  });

  it('limitHeadersOnErrors sends X-Limit-App-* on a 400 with a valid token', T, async () => {
    const po = await start({ limitHeadersOnErrors: true });
    const r = await send(po, { message: '' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-limit-app-limit'), '10000');
  });

  it('configured tokens and users replace the defaults', T, async () => {
    const token = randomPushoverKey();
    const user = randomPushoverKey();
    const po = await start({ tokens: [token], users: [{ key: user }] });
    assert.equal(po.token, token);
    assert.equal(po.user, user);
    assert.equal((await send(po)).status, 400); // default token not registered
    assert.equal((await form(po, { token, user, message: 'x' })).status, 200);
  });
});

describe('Pushover emulator: quota', T, () => {
  const clock = manualClock(Date.parse('2026-03-20T12:00:00Z'));
  let po: PushoverEmulator;
  let group: string;
  before(async () => {
    po = await startPushoverEmulator({ quota: 3, clock });
    group = po.addUser({ group: true, members: 2 });
  });
  after(async () => { await po.close(); });

  it('charges per recipient user, reaches 429 with the catalogued body and headers, resets on the 1st (Chicago)', T, async () => {
    const reset = Math.floor(nextQuotaReset(clock.now()) / 1000);
    assert.equal(reset, Date.parse('2026-04-01T05:00:00Z') / 1000); // CDT
    const first = await send(po);
    assert.equal(first.headers.get('x-limit-app-remaining'), '2');
    assert.equal(first.headers.get('x-limit-app-reset'), String(reset));
    const g = await send(po, { user: group }); // a group of 2 members costs 2
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('x-limit-app-remaining'), '0');
    const r = await send(po);
    assert.equal(r.status, 429);
    assert.deepEqual(withoutRequest(r.json), { token: 'invalid', errors: ['application has exceeded current limit of 3 messages'], status: 0 });
    assert.equal(r.headers.get('x-limit-app-limit'), '3');
    assert.equal(r.headers.get('x-limit-app-remaining'), '0');
    assert.equal(r.headers.get('x-limit-app-reset'), String(reset));
    const limits = await call(`${po.url}/1/apps/limits.json?token=${TOKEN}`);
    assert.deepEqual(withoutRequest(limits.json), { limit: 3, remaining: 0, reset, status: 1 });
    clock.set(reset * 1000);
    const again = await send(po);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-limit-app-remaining'), '2');
    assert.equal(again.headers.get('x-limit-app-reset'), String(Date.parse('2026-05-01T05:00:00Z') / 1000));
  });

  it('setQuota sets what remains; limits.json with a bad token → 400 token invalid', T, async () => {
    po.setQuota({ limit: 100, remaining: 7 });
    assert.deepEqual(po.quota().remaining, 7);
    const bad = await call(`${po.url}/1/apps/limits.json?token=nope`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json?.token, 'invalid');
  });
});

describe('Pushover emulator: validate, sounds, receipts', T, () => {
  const clock = manualClock(Date.parse('2026-01-10T00:00:00Z'));
  let po: PushoverEmulator;
  let group: string;
  before(async () => {
    po = await startPushoverEmulator({ clock, customSounds: { ding: 'Ding' } });
    group = po.addUser({ group: true, members: 3 });
  });
  after(async () => { await po.close(); });

  it('users/validate.json: user, group, unknown user, bad device, bad token', T, async () => {
    const v = (p: Record<string, string>) => form(po, { token: TOKEN, ...p }, '/1/users/validate.json');
    assert.deepEqual(withoutRequest((await v({ user: USER })).json), { status: 1, group: 0, devices: ['phone', 'tablet'], licenses: ['Android', 'iOS'] });
    assert.deepEqual(withoutRequest((await v({ user: group })).json), { status: 1, group: 1, devices: [], licenses: [] });
    const unknown = await v({ user: randomPushoverKey() });
    assert.equal(unknown.status, 400);
    assert.deepEqual(withoutRequest(unknown.json), { user: 'invalid', errors: ['user key is invalid'], status: 0 });
    const device = await v({ user: USER, device: 'toaster' });
    assert.deepEqual(withoutRequest(device.json), { device: 'invalid for this user', errors: ['device name is not valid for this user'], status: 0 });
    assert.equal((await v({ user: USER, token: 'x' })).json?.token, 'invalid');
  });

  it('sounds.json: 23 built-ins plus custom sounds', T, async () => {
    const r = await call(`${po.url}/1/sounds.json?token=${TOKEN}`);
    const sounds = r.json?.sounds as Record<string, string>;
    assert.equal(Object.keys(sounds).length, 24);
    assert.equal(sounds.pushover, 'Pushover (default)');
    assert.equal(sounds.ding, 'Ding');
    assert.equal((await call(`${po.url}/1/sounds.json?token=bad`)).status, 400);
  });

  it('receipts: poll, acknowledge, cancel, cancel_by_tag, not found', T, async () => {
    const emergency = (tags: string) => send(po, { priority: '2', retry: '60', expire: '3600', tags });
    const receipt = String((await emergency('a/b c=d')).json?.receipt);
    const get = (id: string) => call(`${po.url}/1/receipts/${id}.json?token=${TOKEN}`);
    let body = withoutRequest((await get(receipt)).json);
    assert.equal(body.acknowledged, 0);
    assert.equal(body.expires_at, Math.floor(clock.now() / 1000) + 3600);
    clock.advance(125_000);
    po.acknowledge(receipt);
    body = withoutRequest((await get(receipt)).json);
    assert.equal(body.acknowledged, 1);
    assert.equal(body.last_delivered_at, Math.floor(clock.now() / 1000) - 5); // two repeats at 60 s
    const two = String((await emergency('a/b c=d')).json?.receipt);
    const three = String((await emergency('other')).json?.receipt);
    const byTag = await form(po, { token: TOKEN }, `/1/receipts/cancel_by_tag/${encodeURIComponent('a/b c=d')}.json`);
    assert.deepEqual(withoutRequest(byTag.json), { status: 1, canceled: 1 });
    assert.equal(po.receipt(two)?.canceled, true);
    assert.deepEqual(withoutRequest((await form(po, { token: TOKEN }, `/1/receipts/${three}/cancel.json`)).json), { status: 1 });
    assert.equal(po.receipt(three)?.canceled, true);
    const missing = await get(randomPushoverKey());
    assert.equal(missing.status, 400);
    assert.deepEqual(withoutRequest(missing.json), { receipt: 'not found', errors: ['receipt not found; may be invalid or expired'], status: 0 });
    assert.equal((await call(`${po.url}/1/receipts/${three}/cancel.json?token=${TOKEN}`)).status, 404); // GET
  });
});

describe('Pushover emulator: faults, records, listeners, close', T, () => {
  let po: PushoverEmulator;
  before(async () => { po = await startPushoverEmulator(); });
  afterEach(() => { po.clearFaults(); });
  after(async () => { await po.close(); });

  it('status fault: HTML 503 for exactly `count` requests, then normal', T, async () => {
    po.inject({ kind: 'status', status: 503, count: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await send(po);
      assert.equal(r.status, 503);
      assert.match(r.text, /<title>503 Service Unavailable<\/title>/);
      assert.equal(r.json, undefined);
    }
    assert.equal((await send(po)).status, 200);
    assert.deepEqual(po.requests({ endpoint: 'messages' }).slice(-3).map((q) => q.fault), ['status', 'status', undefined]);
  });

  it('status fault with a JSON body, and the nginx HTML 429', T, async () => {
    po.inject({ kind: 'status', status: 500, body: '{"status":0}', contentType: 'application/json' });
    const r = await send(po);
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, { status: 0 });
    po.inject({ kind: 'status', status: 429 });
    const h = await send(po);
    assert.equal(h.status, 429);
    assert.match(h.text, /<title>429 Too Many Requests<\/title>/);
    assert.equal(h.headers.get('x-limit-app-remaining'), null);
  });

  it('faults are scoped to their endpoint', T, async () => {
    po.inject({ kind: 'status', status: 502, endpoint: 'validate' });
    assert.equal((await send(po)).status, 200);
    assert.equal((await form(po, { token: TOKEN, user: USER }, '/1/users/validate.json')).status, 502);
  });

  it('latency delays the answer by real time', T, async () => {
    po.inject({ kind: 'latency', ms: 150 });
    const t0 = performance.now();
    assert.equal((await send(po)).status, 200);
    assert.ok(performance.now() - t0 >= 140);
  });

  it('drop: the connection closes without an answer and nothing is stored', T, async () => {
    const before = po.messages().length;
    po.inject({ kind: 'drop' });
    await assert.rejects(send(po));
    assert.equal(po.messages().length, before);
    assert.equal(po.requests().at(-1)!.status, 0);
  });

  it('accept-then-drop: stored and charged, then the reply is lost', T, async () => {
    const before = po.messages().length;
    const remaining = po.quota().remaining;
    po.inject({ kind: 'accept-then-drop' });
    await assert.rejects(send(po, { tags: 'lost' }));
    assert.equal(po.messages().length, before + 1);
    assert.equal(po.messages({ tags: 'lost' }).length, 1);
    assert.equal(po.quota().remaining, remaining - 1);
  });

  it('hang: never answers; the client gives up', T, async () => {
    po.inject({ kind: 'hang' });
    await assert.rejects(fetch(po.url + '/1/messages.json', {
      method: 'POST', body: new URLSearchParams({ token: TOKEN, user: USER, message: 'x' }), signal: AbortSignal.timeout(200),
    }));
  });

  it('bad-json, status-0 and no-limit-headers', T, async () => {
    po.inject({ kind: 'bad-json' });
    const bad = await send(po);
    assert.equal(bad.status, 200);
    assert.equal(bad.json, undefined);
    po.inject({ kind: 'status-0' });
    const zero = await send(po);
    assert.equal(zero.status, 200);
    assert.equal(zero.json?.status, 0);
    po.inject({ kind: 'no-limit-headers' });
    const bare = await send(po);
    assert.equal(bare.json?.status, 1);
    assert.equal(bare.headers.get('x-limit-app-limit'), null);
  });

  it('onMessage/onEvent give a live view; unsubscribe stops them', T, async () => {
    const seen: string[] = [];
    const offM = po.onMessage((m) => seen.push(`message:${m.params.message}`));
    const offE = po.onEvent((e) => seen.push(e.type === 'request' ? `request:${e.request.status}` : 'event:message'));
    await send(po, { message: 'live' });
    await send(po, { message: '' });
    offM();
    offE();
    await send(po, { message: 'after' });
    assert.deepEqual(seen, ['event:message', 'message:live', 'request:200', 'request:400']);
  });

  it('counts connections and the peak of concurrent requests', T, async () => {
    po.resetStats();
    po.inject({ kind: 'latency', ms: 300, count: 3 });
    await Promise.all([send(po), send(po), send(po)]);
    assert.equal(po.stats().peakInFlight, 3);
    assert.equal(po.stats().inFlight, 0);
  });

  it('maxConcurrent answers the request over the limit with nginx HTML 429', T, async () => {
    const strict = await startPushoverEmulator({ maxConcurrent: 2 });
    try {
      strict.inject({ kind: 'latency', ms: 400, count: 3 });
      const statuses = (await Promise.all([send(strict), send(strict), send(strict)])).map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 429]);
    } finally {
      await strict.close();
    }
  });

  it('close() ends hanging requests and stops listening', T, async () => {
    const temp = await startPushoverEmulator();
    temp.inject({ kind: 'hang' });
    const pending = send(temp).then(() => 'answered', () => 'failed');
    while (temp.stats().inFlight === 0) await new Promise((r) => setImmediate(r));
    await temp.close();
    assert.equal(await pending, 'failed');
    const port = Number(new URL(temp.url).port);
    await assert.rejects(new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(undefined); });
      s.on('error', reject);
    }));
  });
});
