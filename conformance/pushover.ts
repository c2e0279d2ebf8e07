/**
 * The Pushover emulator: an in-process `node:http` server that answers like api.pushover.net for
 * the message API (pushover-api.md §11 checklist), so the adapter and whole integrations are tested
 * over real HTTP without a Pushover account. Behaviour the reference marks UNCONFIRMED is an option.
 *
 * @example
 * const po = await startPushoverEmulator();
 * // PUSHOVER_URL=po.url PUSHOVER_TOKEN=po.token PUSHOVER_USER=po.user
 * po.inject({ kind: 'status', status: 503, count: 3 }); // next three requests: HTML 503
 * po.messages();                                         // what was accepted, all fields
 * await po.close();
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../src/clock.ts';
import { BodyTooLargeError, readBody } from '../src/http.ts';
import { nextQuotaReset, PUSHOVER_KEY_PATTERN, PUSHOVER_MAX_ATTACHMENT_BYTES } from '../src/pushover/limits.ts';
import { BUILTIN_SOUNDS, nginxErrorPage, NOT_FOUND_HTML } from './pushover/pages.ts';
import { decodeParams, type DecodedParams } from './pushover/parse.ts';
import { validateMessage, type ValidationPolicy, type ValidMessage } from './pushover/validate.ts';

/** The app token every emulator accepts unless `tokens` is given (a fake, not a real Pushover key). */
export const PUSHOVER_EMULATOR_TOKEN = 'azEmuLat0rAppT0kenF0rTests0001';
/** The user key every emulator accepts unless `users` is given (a fake). */
export const PUSHOVER_EMULATOR_USER = 'uQEmuLat0rUserKeyF0rTests00001';

/**
 * A random key in Pushover's format (30 × [A-Za-z0-9]), for registering more tokens or users.
 *
 * @example
 * const other = randomPushoverKey(); po.addUser({ key: other });
 */
export function randomPushoverKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(30), (b) => alphabet[b % alphabet.length]).join('');
}

/** A registered recipient. A group counts `members` against the quota per message. */
export interface EmulatorRecipient {
  key: string;
  devices?: string[];
  group?: boolean;
  /** Users in the group (quota charge per message); default 1. */
  members?: number;
}

/** Endpoint names used in records and fault scopes. */
export type PushoverEndpoint =
  | 'messages' | 'validate' | 'sounds' | 'limits' | 'receipt' | 'cancel' | 'cancel_by_tag' | 'unknown';

/**
 * A scripted fault for the next `count` (default 1) requests to `endpoint` (default 'messages').
 * - `latency`: wait `ms` (real time), then answer normally.
 * - `status`: answer `status` with `body` (default: an nginx HTML page) and `contentType`.
 * - `drop`: destroy the connection without answering.
 * - `accept-then-drop`: store the message and charge the quota, then drop (the "reply lost" case).
 * - `hang`: never answer (until the client gives up or the emulator closes).
 * - `bad-json`: 200 with a truncated JSON body.
 * - `status-0`: 200 with `{"status":0,…}`.
 * - `no-limit-headers`: answer normally without `X-Limit-App-*`.
 */
export type PushoverFault = { endpoint?: PushoverEndpoint; count?: number } & (
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  | { kind: 'drop' | 'accept-then-drop' | 'hang' | 'bad-json' | 'status-0' | 'no-limit-headers' }
);

/** A message the emulator accepted (200), with every parameter as received. */
export interface AcceptedMessage {
  request: string;
  receipt?: string;
  at: number;
  encoding: DecodedParams['encoding'];
  /** Every decoded parameter (after `truncate`/`clamp` policies), including `tags`. */
  params: Record<string, string>;
  token: string;
  users: string[];
  devices: string[];
  attachment?: ValidMessage['attachment'];
  /** Parameters taken from the POST query string (undocumented, but works in practice). */
  fromQuery: string[];
}

/** One request as the emulator saw it. The query string is not kept (it can hold the token). */
export interface PushoverRequestRecord {
  id: number;
  at: number;
  method: string;
  path: string;
  endpoint: PushoverEndpoint;
  encoding?: DecodedParams['encoding'];
  params?: Record<string, string>;
  /** HTTP status answered; 0 when the connection was dropped or never answered. */
  status: number;
  responseBody?: string;
  fault?: PushoverFault['kind'];
}

/** An emergency-priority receipt. */
export interface EmulatorReceipt {
  receipt: string;
  token: string;
  sentAt: number;
  expiresAt: number;
  retry: number;
  callback?: string;
  tags: string[];
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  canceled: boolean;
}

export type PushoverEvent =
  | { type: 'request'; request: PushoverRequestRecord }
  | { type: 'message'; message: AcceptedMessage };

/** Options for {@link startPushoverEmulator}; every field is optional. */
export interface PushoverEmulatorOptions extends Partial<ValidationPolicy> {
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Registered app tokens; default `[PUSHOVER_EMULATOR_TOKEN]`. */
  tokens?: string[];
  /** Registered users/groups; default one user `PUSHOVER_EMULATOR_USER` with devices phone, tablet. */
  users?: EmulatorRecipient[];
  /** Time source for quota resets and receipts (inject a manual clock in tests). */
  clock?: Clock;
  /** Monthly messages per app token (default 10,000). */
  quota?: number;
  /** Custom sounds of the app owner, key → name, added to the 23 built-ins. */
  customSounds?: Record<string, string>;
  /** Read parameters from a POST's query string as well (undocumented; default true). [U] */
  queryParams?: boolean;
  /** Send `X-Limit-App-*` on 400s for a valid token too (default false). [U] */
  limitHeadersOnErrors?: boolean;
  /** Abuse control, off by default: more in-flight requests than this → nginx HTML 429. */
  maxConcurrent?: number;
  /** Bodies above this many bytes get an HTML 503 ("extremely large uploads": a server error). Default 16 MiB. */
  serverErrorAboveBytes?: number;
  onMessage?: (message: AcceptedMessage) => void;
  onEvent?: (event: PushoverEvent) => void;
}

/** A running Pushover emulator. */
export interface PushoverEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (the adapter's `baseUrl` / PUSHOVER_URL). */
  readonly url: string;
  /** The first registered app token. */
  readonly token: string;
  /** The first registered user key. */
  readonly user: string;
  readonly clock: Clock;
  /** Accepted messages in order; `filter.tags` matches one tag of the comma list. */
  messages(filter?: { tags?: string }): AcceptedMessage[];
  requests(filter?: { endpoint?: PushoverEndpoint }): PushoverRequestRecord[];
  inject(fault: PushoverFault): void;
  clearFaults(): void;
  /** Quota state of a token (default the first). */
  quota(token?: string): { limit: number; remaining: number; reset: number };
  /** Sets the limit and/or what remains this period. */
  setQuota(values: { limit?: number; remaining?: number }, token?: string): void;
  addToken(token?: string): string;
  addUser(recipient?: Partial<EmulatorRecipient>): string;
  receipt(id: string): EmulatorReceipt | undefined;
  /** Test control: the user acknowledges an emergency message. */
  acknowledge(receipt: string, by?: string, device?: string): void;
  /** Connections accepted and the most requests ever in flight at once (both since the last `resetStats`), and requests in flight now. */
  stats(): { connections: number; inFlight: number; peakInFlight: number };
  resetStats(): void;
  onMessage(listener: (message: AcceptedMessage) => void): () => void;
  onEvent(listener: (event: PushoverEvent) => void): () => void;
  /** Stops listening, destroys open connections, cancels pending timers. */
  close(): Promise<void>;
}

interface QuotaState { limit: number; used: number; reset: number }

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Starts the emulator on 127.0.0.1 (port 0 by default).
 *
 * @example
 * const po = await startPushoverEmulator({ quota: 5, overLength: 'truncate', clock: manualClock() });
 */
export async function startPushoverEmulator(options: PushoverEmulatorOptions = {}): Promise<PushoverEmulator> {
  const clock = options.clock ?? systemClock;
  const policy: ValidationPolicy = {
    overLength: options.overLength ?? 'reject',
    expireAboveMax: options.expireAboveMax ?? 'reject',
    unknownSound: options.unknownSound ?? 'accept',
    maxAttachmentBytes: options.maxAttachmentBytes ?? PUSHOVER_MAX_ATTACHMENT_BYTES,
  };
  const defaultLimit = options.quota ?? 10_000;
  const serverErrorAbove = options.serverErrorAboveBytes ?? 16 * 1024 * 1024;
  const acceptQuery = options.queryParams ?? true;
  const sounds: Record<string, string> = { ...BUILTIN_SOUNDS, ...options.customSounds };
  const soundSet = new Set(Object.keys(sounds));

  const quotas = new Map<string, QuotaState>();
  const recipients = new Map<string, EmulatorRecipient>();
  const accepted: AcceptedMessage[] = [];
  const records: PushoverRequestRecord[] = [];
  const faults: PushoverFault[] = [];
  const receipts = new Map<string, EmulatorReceipt>();
  const messageListeners = new Set<(m: AcceptedMessage) => void>();
  const eventListeners = new Set<(e: PushoverEvent) => void>();
  if (options.onMessage) messageListeners.add(options.onMessage);
  if (options.onEvent) eventListeners.add(options.onEvent);

  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let connections = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let nextId = 1;

  const addToken = (token = randomPushoverKey()) => {
    if (!PUSHOVER_KEY_PATTERN.test(token)) throw new Error('an app token must be 30 characters of [A-Za-z0-9]');
    if (!quotas.has(token)) quotas.set(token, { limit: defaultLimit, used: 0, reset: nextQuotaReset(clock.now()) });
    return token;
  };
  const addUser = (r: Partial<EmulatorRecipient> = {}) => {
    const key = r.key ?? randomPushoverKey();
    if (!PUSHOVER_KEY_PATTERN.test(key)) throw new Error('a user key must be 30 characters of [A-Za-z0-9]');
    recipients.set(key, { key, devices: r.devices ?? (r.group ? [] : ['phone', 'tablet']), group: r.group ?? false, members: r.members ?? 1 });
    return key;
  };
  for (const t of options.tokens ?? [PUSHOVER_EMULATOR_TOKEN]) addToken(t);
  for (const u of options.users ?? [{ key: PUSHOVER_EMULATOR_USER }]) addUser(u);
  const firstToken = quotas.keys().next().value as string;
  const firstUser = recipients.keys().next().value as string;

  /** The quota of a token, rolled over when the clock has passed its reset. */
  const quotaOf = (token: string): QuotaState => {
    const q = quotas.get(token)!;
    if (clock.now() >= q.reset) {
      q.used = 0;
      q.reset = nextQuotaReset(clock.now());
    }
    return q;
  };
  const limitHeaders = (token: string): Record<string, string> => {
    const q = quotaOf(token);
    return {
      'x-limit-app-limit': String(q.limit),
      'x-limit-app-remaining': String(Math.max(0, q.limit - q.used)),
      'x-limit-app-reset': String(Math.floor(q.reset / 1000)),
    };
  };

  const emit = (event: PushoverEvent) => {
    for (const l of eventListeners) l(event);
    if (event.type === 'message') for (const l of messageListeners) l(event.message);
  };

  const takeFault = (endpoint: PushoverEndpoint): PushoverFault | undefined => {
    const i = faults.findIndex((f) => (f.endpoint ?? 'messages') === endpoint);
    if (i === -1) return undefined;
    const fault = faults[i]!;
    const left = (fault.count ?? 1) - 1;
    if (left <= 0) faults.splice(i, 1);
    else faults[i] = { ...fault, count: left };
    return fault;
  };

  const endpointOf = (method: string, path: string): PushoverEndpoint => {
    if (method === 'POST' && path === '/1/messages.json') return 'messages';
    if (method === 'POST' && path === '/1/users/validate.json') return 'validate';
    if (method === 'GET' && path === '/1/sounds.json') return 'sounds';
    if (method === 'GET' && path === '/1/apps/limits.json') return 'limits';
    if (method === 'POST' && /^\/1\/receipts\/cancel_by_tag\/[^/]+\.json$/.test(path)) return 'cancel_by_tag';
    if (method === 'POST' && /^\/1\/receipts\/[A-Za-z0-9]+\/cancel\.json$/.test(path)) return 'cancel';
    if (method === 'GET' && /^\/1\/receipts\/[A-Za-z0-9]+\.json$/.test(path)) return 'receipt';
    return 'unknown';
  };

  /** An answer before it is written, so faults can alter it. */
  interface Answer { status: number; body: string; headers: Record<string, string> }
  const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Answer => {
    const request = randomUUID();
    return { status, body: JSON.stringify({ ...body, request }), headers: { 'content-type': JSON_TYPE, 'x-request-id': request, ...headers } };
  };
  const html = (status: number, body: string): Answer => ({ status, body, headers: { 'content-type': 'text/html' } });
  const fieldError = (status: number, fields: Record<string, string>, errors: string[], headers?: Record<string, string>) =>
    json(status, { ...fields, errors, status: 0 }, headers);
  const tokenInvalid = () => fieldError(400, { token: 'invalid' }, ['application token is invalid']);
  const validToken = (t: string | undefined): t is string => t !== undefined && PUSHOVER_KEY_PATTERN.test(t) && quotas.has(t);

  const handleMessages = (d: DecodedParams): { answer: Answer; message?: AcceptedMessage } => {
    const token = d.params.token;
    if (!validToken(token)) return { answer: tokenInvalid() };
    const result = validateMessage(d, { isUser: (k) => recipients.has(k), sounds: soundSet, policy });
    if ('errors' in result) {
      return { answer: fieldError(400, result.fields, result.errors, options.limitHeadersOnErrors ? limitHeaders(token) : {}) };
    }
    const q = quotaOf(token);
    const charge = result.users.reduce((n, u) => n + (recipients.get(u)?.members ?? 1), 0);
    if (q.used + charge > q.limit) {
      // 2015 wording with today's structure [O]; current wording [U].
      return { answer: fieldError(429, { token: 'invalid' }, [`application has exceeded current limit of ${q.limit} messages`], limitHeaders(token)) };
    }
    q.used += charge;
    const body: Record<string, unknown> = { status: 1 };
    if (result.params.priority === '2') {
      const receipt = randomPushoverKey();
      const now = clock.now();
      receipts.set(receipt, {
        receipt, token, sentAt: now, expiresAt: now + Number(result.params.expire) * 1000, retry: Number(result.params.retry),
        ...(result.params.callback ? { callback: result.params.callback } : {}),
        tags: (result.params.tags ?? '').split(',').filter(Boolean), canceled: false,
      });
      body.receipt = receipt;
    }
    const answer = json(200, body, limitHeaders(token));
    const message: AcceptedMessage = {
      request: answer.headers['x-request-id']!, at: clock.now(), encoding: d.encoding, params: result.params, token,
      users: result.users, devices: result.devices, fromQuery: d.fromQuery,
      ...(body.receipt ? { receipt: body.receipt as string } : {}),
      ...(result.attachment ? { attachment: result.attachment } : {}),
    };
    return { answer, message };
  };

  const handleValidate = (d: DecodedParams): Answer => {
    if (!validToken(d.params.token)) return tokenInvalid();
    const r = recipients.get(d.params.user ?? '');
    if (!r) return fieldError(400, { user: 'invalid' }, ['user key is invalid']);
    const device = d.params.device;
    if (device && !r.group && !(r.devices ?? []).includes(device)) {
      return fieldError(400, { device: 'invalid for this user' }, ['device name is not valid for this user']); // [L/U]
    }
    if (!r.group && (r.devices ?? []).length === 0) return fieldError(400, { user: 'invalid' }, ['user has no active devices']); // [U]
    return json(200, { status: 1, group: r.group ? 1 : 0, devices: r.group ? [] : r.devices, licenses: r.group ? [] : ['Android', 'iOS'] });
  };

  const receiptBody = (r: EmulatorReceipt) => {
    const now = clock.now();
    const seconds = (ms: number) => Math.floor(ms / 1000);
    const deliveries = Math.min(50, Math.floor((Math.min(now, r.expiresAt) - r.sentAt) / (r.retry * 1000)));
    return {
      status: 1,
      acknowledged: r.acknowledgedAt ? 1 : 0,
      acknowledged_at: r.acknowledgedAt ? seconds(r.acknowledgedAt) : 0,
      acknowledged_by: r.acknowledgedBy ?? '',
      acknowledged_by_device: r.acknowledgedAt ? 'phone' : '',
      last_delivered_at: seconds(r.sentAt + deliveries * r.retry * 1000),
      expired: now >= r.expiresAt || r.canceled ? 1 : 0,
      expires_at: seconds(r.expiresAt),
      called_back: 0,
      called_back_at: 0,
    };
  };
  const receiptNotFound = () =>
    fieldError(400, { receipt: 'not found' }, ['receipt not found; may be invalid or expired']); // status [U]

  const route = (endpoint: PushoverEndpoint, path: string, d: DecodedParams): { answer: Answer; message?: AcceptedMessage } => {
    switch (endpoint) {
      case 'messages':
        return handleMessages(d);
      case 'validate':
        return { answer: handleValidate(d) };
      case 'sounds':
        return { answer: validToken(d.params.token) ? json(200, { sounds, status: 1 }) : tokenInvalid() };
      case 'limits': {
        if (!validToken(d.params.token)) return { answer: tokenInvalid() };
        const q = quotaOf(d.params.token);
        return { answer: json(200, { limit: q.limit, remaining: Math.max(0, q.limit - q.used), reset: Math.floor(q.reset / 1000), status: 1 }) };
      }
      case 'receipt':
      case 'cancel': {
        if (!validToken(d.params.token)) return { answer: tokenInvalid() };
        const id = path.split('/')[3]!.replace(/\.json$/, '');
        const r = receipts.get(id);
        const week = 7 * 24 * 3_600_000;
        if (!r || r.token !== d.params.token || clock.now() - r.sentAt > week) return { answer: receiptNotFound() };
        if (endpoint === 'cancel') {
          r.canceled = true;
          return { answer: json(200, { status: 1 }) };
        }
        return { answer: json(200, receiptBody(r)) };
      }
      case 'cancel_by_tag': {
        if (!validToken(d.params.token)) return { answer: tokenInvalid() };
        const tag = decodeURIComponent(path.slice('/1/receipts/cancel_by_tag/'.length, -'.json'.length));
        let canceled = 0;
        for (const r of receipts.values()) {
          if (r.token === d.params.token && !r.canceled && !r.acknowledgedAt && r.tags.includes(tag)) {
            r.canceled = true;
            canceled++;
          }
        }
        return { answer: json(200, { status: 1, canceled }) }; // `canceled` [U]
      }
      default:
        return { answer: html(404, NOT_FOUND_HTML) };
    }
  };

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse, record: PushoverRequestRecord, throttled: boolean) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let raw: Buffer;
    try {
      raw = await readBody(req, serverErrorAbove);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      return write(res, record, html(503, nginxErrorPage(503)));
    }
    const isPost = req.method === 'POST';
    const decoded = await decodeParams(raw, isPost ? req.headers['content-type'] : undefined, url.searchParams, acceptQuery || !isPost);
    record.encoding = decoded.encoding;
    record.params = decoded.params;

    if (throttled) return write(res, record, html(429, nginxErrorPage(429)));
    let fault = takeFault(record.endpoint);
    if (fault?.kind === 'latency') {
      record.fault = 'latency';
      await delay(fault.ms);
      fault = undefined;
    }
    if (fault) record.fault = fault.kind;
    switch (fault?.kind) {
      case 'drop':
        return drop(req, record);
      case 'hang':
        return; // the socket is destroyed by the client's timeout or by close()
      case 'status':
        return write(res, record, fault.contentType
          ? { status: fault.status, body: fault.body ?? '', headers: { 'content-type': fault.contentType } }
          : html(fault.status, fault.body ?? nginxErrorPage(fault.status)));
      default:
    }
    const { answer, message } = route(record.endpoint, url.pathname, decoded);
    if (message) {
      accepted.push(message);
      emit({ type: 'message', message });
    }
    if (fault?.kind === 'accept-then-drop') return drop(req, record);
    if (fault?.kind === 'bad-json') answer.body = answer.body.slice(0, Math.floor(answer.body.length / 2));
    if (fault?.kind === 'status-0') answer.body = answer.body.replace('"status":1', '"status":0');
    if (fault?.kind === 'no-limit-headers') {
      for (const h of Object.keys(answer.headers)) if (h.startsWith('x-limit-app-')) delete answer.headers[h];
    }
    write(res, record, answer);
  };

  const write = (res: ServerResponse, record: PushoverRequestRecord, answer: Answer) => {
    record.status = answer.status;
    record.responseBody = answer.body;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
    res.end(answer.body);
  };
  const drop = (req: IncomingMessage, record: PushoverRequestRecord) => {
    record.status = 0;
    req.socket.destroy();
  };

  const server = createServer((req, res) => {
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      emit({ type: 'request', request: record });
    };
    res.on('close', finish);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const record: PushoverRequestRecord = {
      id: nextId++, at: clock.now(), method: req.method ?? 'GET', path, endpoint: endpointOf(req.method ?? 'GET', path), status: 0,
    };
    records.push(record);
    // Judged on arrival: requests already in flight when this one came in.
    const throttled = options.maxConcurrent !== undefined && inFlight > options.maxConcurrent;
    handle(req, res, record, throttled).catch(() => {
      if (!res.headersSent) write(res, record, html(500, nginxErrorPage(500)));
      else req.socket.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    token: firstToken,
    user: firstUser,
    clock,
    messages: (filter = {}) =>
      accepted.filter((m) => filter.tags === undefined || (m.params.tags ?? '').split(',').includes(filter.tags)),
    requests: (filter = {}) => records.filter((r) => filter.endpoint === undefined || r.endpoint === filter.endpoint),
    inject(fault) {
      if ((fault.count ?? 1) < 1) throw new RangeError('fault count must be at least 1');
      faults.push({ ...fault });
    },
    clearFaults() { faults.length = 0; },
    quota(token = firstToken) {
      if (!quotas.has(token)) throw new Error('unknown app token');
      const q = quotaOf(token);
      return { limit: q.limit, remaining: Math.max(0, q.limit - q.used), reset: Math.floor(q.reset / 1000) };
    },
    setQuota(values, token = firstToken) {
      if (!quotas.has(token)) throw new Error('unknown app token');
      const q = quotaOf(token);
      if (values.limit !== undefined) q.limit = values.limit;
      if (values.remaining !== undefined) q.used = q.limit - values.remaining;
    },
    addToken,
    addUser,
    receipt: (id) => receipts.get(id),
    acknowledge(id, by = firstUser) {
      const r = receipts.get(id);
      if (!r) throw new Error('unknown receipt');
      r.acknowledgedAt = clock.now();
      r.acknowledgedBy = by;
    },
    stats: () => ({ connections, inFlight, peakInFlight }),
    resetStats() {
      connections = 0;
      peakInFlight = inFlight;
    },
    onMessage(listener) {
      messageListeners.add(listener);
      return () => messageListeners.delete(listener);
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
