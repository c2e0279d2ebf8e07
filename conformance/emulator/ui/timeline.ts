/**
 * The sandbox's timeline: everything on the wire (webhooks with the receiver's verdict, token
 * exchanges and refreshes, API calls, Pushover sends) plus what the user clicked, as plain entries
 * the pages render. Built on demand from the emulators' records, so it is complete whenever the
 * page loads. Secrets (grant codes, tokens, client secrets, signatures, Pushover keys) are replaced
 * by a short fingerprint: a reader can still see a refresh token rotate without seeing it.
 *
 * @example
 * const entries = buildTimeline({ requests: sentry.requests(), deliveries: sentry.deliveries(), actions: [] });
 * entries[0]?.title; // 'Webhook installation.created'
 */
import { createHash } from 'node:crypto';
import type { PushoverRequestRecord } from '../../pushover.ts';
import type { DeliveryRecord, RecordedRequest } from '../types.ts';

/** What the user did on the pages (recorded by the page handler). */
export interface UserAction {
  at: number;
  title: string;
  detail?: string;
}

/** One line of the timeline. */
export interface TimelineEntry {
  /** Emulator-clock time in ms. */
  at: number;
  kind: 'action' | 'webhook' | 'token' | 'api' | 'pushover';
  title: string;
  /** HTTP status (0: no answer), when there was a request. */
  status?: number;
  /** False when the exchange failed (non-2xx/3xx, no answer). */
  ok: boolean;
  /** One line: who talked to whom and the verdict. */
  summary: string;
  /** Redacted request and response text, for the expandable details. */
  request?: string;
  response?: string;
}

/** Inputs of {@link buildTimeline}. */
export interface TimelineSources {
  requests: RecordedRequest[];
  deliveries: DeliveryRecord[];
  pushover?: PushoverRequestRecord[];
  actions: UserAction[];
}

const SECRET_KEY = /secret|token|code|signature|assertion|password|^user$|^key$/i;
const MAX_TEXT = 4000;

/** A non-reversible short name for a secret value: same value, same name. */
export function fingerprint(value: string): string {
  return `«redacted #${createHash('sha256').update(value).digest('hex').slice(0, 6)}»`;
}

function redactValue(key: string, value: unknown): unknown {
  if (typeof value === 'string' && SECRET_KEY.test(key) && value !== '') {
    // grant_type values ('refresh_token', …) are names, not secrets.
    return key === 'grant_type' ? value : fingerprint(value);
  }
  if (Array.isArray(value)) return value.map((v) => redactValue('', v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactValue(k, v)]));
  }
  return value;
}

/**
 * A body (JSON or form-encoded) with secret fields replaced by fingerprints, pretty-printed.
 *
 * @example
 * redactBody('{"code":"abc","grant_type":"authorization_code"}'); // code → «redacted #…»
 */
export function redactBody(text: string): string {
  if (text === '') return '';
  let out: string;
  try {
    out = JSON.stringify(redactValue('', JSON.parse(text)), null, 2);
  } catch {
    if (/^[\w.%+-]+=[^&]*(&[\w.%+-]+=[^&]*)*$/.test(text.trim())) {
      const params = new URLSearchParams(text);
      out = [...params].map(([k, v]) => `${k}=${String(redactValue(k, v))}`).join('\n');
    } else {
      out = text;
    }
  }
  return out.length > MAX_TEXT ? `${out.slice(0, MAX_TEXT)}\n… (${out.length - MAX_TEXT} more characters)` : out;
}

function redactHeaders(headers: Record<string, string>, keep: (name: string) => boolean): string {
  return Object.entries(headers)
    .filter(([name]) => keep(name.toLowerCase()))
    .map(([name, value]) => {
      const lower = name.toLowerCase();
      if (lower === 'authorization') {
        const [scheme, ...rest] = value.split(' ');
        return `${name}: ${scheme} ${fingerprint(rest.join(' '))}`;
      }
      return `${name}: ${lower.includes('signature') ? fingerprint(value) : value}`;
    })
    .join('\n');
}

const ENDPOINT_TITLES: Record<string, { kind: TimelineEntry['kind']; title: string }> = {
  'token.exchange': { kind: 'token', title: 'Token exchange (grant code → token pair)' },
  'token.refresh': { kind: 'token', title: 'Token refresh (refresh_token grant)' },
  'token.jwt': { kind: 'token', title: 'Token refresh (JWT-bearer grant)' },
  verify: { kind: 'api', title: 'Verify install (PUT status=installed)' },
  issue: { kind: 'api', title: 'API: fetch the issue' },
  'issue.legacy': { kind: 'api', title: 'API: fetch the issue (legacy path)' },
  organization: { kind: 'api', title: 'API: fetch the organization' },
  'installation.delete': { kind: 'api', title: 'API: delete the installation' },
};

const okStatus = (status: number) => status >= 200 && status < 400;

function fromRequest(r: RecordedRequest): TimelineEntry {
  const known = ENDPOINT_TITLES[r.endpoint] ?? { kind: 'api' as const, title: `API: ${r.endpoint}` };
  const path = r.path.split('?')[0] ?? r.path;
  const answer = r.status === 0 ? 'no answer (connection dropped)' : `${r.status}`;
  return {
    at: r.at,
    kind: known.kind,
    title: known.title,
    status: r.status,
    ok: okStatus(r.status),
    summary: `integration → Sentry: ${r.method} ${path} → ${answer}${r.fault ? ` (injected fault: ${r.fault})` : ''}`,
    request: [
      `${r.method} ${path}`,
      redactHeaders(r.headers, (n) => n === 'authorization' || n === 'content-type' || n === 'user-agent'),
      redactBody(r.body),
    ].filter(Boolean).join('\n'),
    response: redactBody(r.responseBody),
  };
}

function fromDelivery(d: DeliveryRecord): TimelineEntry | undefined {
  const last = d.attempts.at(-1);
  const first = d.attempts[0];
  if (!last || !first) return undefined; // still being sent: it appears once its first attempt settles
  const statuses = d.attempts.map((a) => (a.status === 0 ? `no answer${a.error ? ` (${a.error})` : ''}` : String(a.status))).join(', then ');
  const verdict = d.delivered ? 'accepted' : 'not accepted';
  return {
    at: first.startedAt,
    kind: 'webhook',
    title: `Webhook ${d.resource}.${d.action}`,
    status: last.status,
    ok: d.delivered,
    summary: `Sentry → integration: POST ${d.url} → ${statuses} (${verdict}${d.attempts.length > 1 ? `, ${d.attempts.length} attempts` : ''})`,
    request: [
      `POST ${d.url}`,
      redactHeaders(d.headers, (n) => n.startsWith('sentry-hook') || n === 'request-id' || n === 'content-type'),
      redactBody(d.body),
    ].join('\n'),
    response: d.attempts.map((a) => `attempt → ${a.status || 'no answer'} in ${a.durationMs} ms${a.error ? ` (${a.error})` : ''}\n${redactBody(a.responseBody ?? '')}`).join('\n'),
  };
}

function fromPushover(r: PushoverRequestRecord): TimelineEntry {
  const title = r.endpoint === 'messages' ? 'Pushover: send a notification' : `Pushover: ${r.endpoint}`;
  return {
    at: r.at,
    kind: 'pushover',
    title,
    status: r.status,
    ok: okStatus(r.status),
    summary: `integration → Pushover: ${r.method} ${r.path} → ${r.status === 0 ? 'no answer' : r.status}${r.params?.title ? ` “${r.params.title}”` : ''}`,
    request: [`${r.method} ${r.path}`, r.params ? redactBody(JSON.stringify(r.params)) : ''].filter(Boolean).join('\n'),
    response: redactBody(r.responseBody ?? ''),
  };
}

const KIND_ORDER: Record<TimelineEntry['kind'], number> = { action: 0, webhook: 1, token: 2, api: 3, pushover: 4 };

/** Everything in time order (ties: the user's action first, then the webhook it caused). */
export function buildTimeline(sources: TimelineSources): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...sources.actions.map((a): TimelineEntry => ({ at: a.at, kind: 'action', title: a.title, ok: true, summary: a.detail ?? '' })),
    ...sources.deliveries.map(fromDelivery).filter((e): e is TimelineEntry => e !== undefined),
    ...sources.requests.map(fromRequest),
    ...(sources.pushover ?? []).filter((r) => r.endpoint !== 'unknown' || r.status !== 0).map(fromPushover),
  ];
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => a.entry.at - b.entry.at || KIND_ORDER[a.entry.kind] - KIND_ORDER[b.entry.kind] || a.index - b.index)
    .map(({ entry }) => entry);
}
