/**
 * Signed Sentry webhook deliveries for load tests, crash tests and the benchmark: the same bytes
 * and headers Sentry sends (compact `\uXXXX` JSON, HMAC over the exact bytes, fresh Request-ID and
 * timestamp each call), built fast and without the emulator so thousands can be generated.
 *
 * @example
 * const d = signedWebhook({ secret, installationId, resource: 'issue', action: 'created',
 *   data: { issue: issueData({ id: '42', org: 'acme' }) } });
 * await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
 */
import { randomUUID } from 'node:crypto';
import { sentryJson } from '../sentry/json.ts';
import { sign } from '../sentry/signature.ts';

/** A delivery ready to POST: body bytes as a string (ASCII only) and headers. */
export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

/** Builds and signs one webhook delivery. `nowMs` only sets `Sentry-Hook-Timestamp`. */
export function signedWebhook(options: {
  secret: string;
  installationId: string;
  resource: string;
  action: string;
  data: unknown;
  actor?: unknown;
  nowMs?: number;
}): SignedDelivery {
  const body = sentryJson({
    action: options.action,
    installation: { uuid: options.installationId },
    data: options.data,
    actor: options.actor ?? { type: 'application', id: 'sentry', name: 'Sentry' },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'request-id': randomUUID().replace(/-/g, ''),
      'sentry-hook-resource': options.resource,
      'sentry-hook-timestamp': String(Math.floor((options.nowMs ?? Date.now()) / 1000)),
      'sentry-hook-signature': sign(options.secret, body),
    },
  };
}

/** An `issue.created`-style `data.issue` object, shaped like Sentry's (url keys first). */
export function issueData(options: {
  id: string;
  org?: string;
  title?: string;
  level?: string;
  culprit?: string;
  project?: string;
  baseUrl?: string;
}): Record<string, unknown> {
  const org = options.org ?? 'test-org';
  const base = options.baseUrl ?? 'https://sentry.io';
  const project = options.project ?? 'front-end';
  return {
    url: `${base}/api/0/organizations/${org}/issues/${options.id}/`,
    web_url: `https://${org}.sentry.io/issues/${options.id}/`,
    project_url: `https://${org}.sentry.io/issues/?project=1`,
    count: '1',
    culprit: options.culprit ?? '?(runner)',
    firstSeen: '2026-01-01T00:00:00.000000Z',
    id: options.id,
    level: options.level ?? 'error',
    project: { id: '1', name: project, slug: project },
    shortId: `${project.toUpperCase()}-${options.id}`,
    status: 'unresolved',
    title: options.title ?? `ReferenceError: thing ${options.id} is not defined`,
    type: 'error',
    userCount: 1,
  };
}
