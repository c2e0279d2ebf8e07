/**
 * Writes fixtures/webhooks/: the exact bytes Sentry sends for each resource/action
 * (`<resource>.<action>.json`, no trailing newline), signed with the reference test secret, plus
 * index.json (file, resource, action, secret, signature, headers, notes). Includes reference
 * vectors 1 and 2 verbatim, a non-ASCII body whose re-serialised signature must not verify, an
 * empty body (UI components sign ""), and floats / large ints / integer-like keys.
 *
 *   node --import tsx scripts/gen-webhook-fixtures.ts      # regenerate
 *
 * @example
 * const { files } = buildWebhookFixtures(); files.get('installation.created.json'); // vector 1
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sentryJson } from '../src/sentry/json.ts';
import { sign } from '../src/sentry/signature.ts';
import {
  commentData, envelope, errorData, eventAlertData, installationData, issueCreatedData, issueUrls, issueWorkflowData,
  metricAlertData, userActor, SENTRY_ACTOR, type IssueInput,
} from '../conformance/emulator/payloads.ts';

/** The reference's test secret (sentry-platform.md §4.3). */
export const FIXTURE_SECRET = '3a2f9ee3b0a84e8c9b1d8f0e2c6a7b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b';
/** Where the fixtures live. */
export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/webhooks/', import.meta.url));

/** One manifest entry. */
export interface FixtureEntry {
  file: string;
  resource: string | null;
  action: string | null;
  secret: string;
  signature: string;
  headers: Record<string, string>;
  bytes: number;
  note?: string;
  /** For bodies a re-serialising verifier gets wrong: the signature of JSON.stringify(JSON.parse(body)), which must NOT verify. */
  reserializedSignature?: string;
}

const VECTOR_1 = '{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"installation":{"app":{"uuid":"2ebf071f-28df-4989-aca9-c37c763b278f","slug":"webhooks-galore"},"organization":{"slug":"test-org","id":5},"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de","status":"pending","code":"f3c71b491e3949b6b033ae45312a4fcb"}},"actor":{"type":"user","id":1,"name":"Meredith Heller"}}';
const VECTOR_2 = '{"action":"created","installation":{"uuid":"eac5a0ae-60ec-418f-9318-46dc5e7e52ec"},"data":{"comment_id":1234,"issue_id":100,"project_slug":"sentry","timestamp":"2022-03-02T21:51:44.118160Z","comment":"\\u00dcber \\ud83d\\ude80"},"actor":{"type":"user","id":1,"name":"colleen"}}';

const INSTALL = 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de';
const APP = { uuid: '2ebf071f-28df-4989-aca9-c37c763b278f', slug: 'webhooks-galore' };
const ORG = { slug: 'test-org', id: 5 };
const BASE = 'https://sentry.io';
const TIME = Date.parse('2019-08-19T20:58:37.391Z');
const ACTOR = userActor(1, 'Meredith Heller');
const ISSUE: IssueInput = {
  id: '1170820242', shortId: 'FRONT-END-9', title: 'ReferenceError: blooopy is not defined', culprit: '?(runner)', level: 'error',
  status: 'unresolved', substatus: 'new', firstSeen: TIME, lastSeen: TIME, count: 1, userCount: 1,
  metadata: { filename: '/runner', type: 'ReferenceError', value: 'blooopy is not defined' }, assignedTo: null,
  project: { id: '1', name: 'front-end', slug: 'front-end', platform: 'javascript' },
};
const EVENT = { baseUrl: BASE, orgSlug: ORG.slug, projectSlug: 'front-end', projectId: 1, eventId: 'a'.repeat(32), issueId: ISSUE.id, title: ISSUE.title, timestamp: TIME };

function bodies(): { resource: string; action: string; body: string; note?: string }[] {
  const env = (action: string, data: unknown, actor: unknown = ACTOR) => sentryJson(envelope(action, INSTALL, data, actor));
  const installed = { uuid: INSTALL, status: 'installed', app: APP, organization: ORG };
  const comment = (text: string) => commentData({ commentId: 1234, issueId: 100, projectSlug: 'sentry', timestamp: '2022-03-02T21:51:44.118160Z', comment: text });
  const list = [
    { resource: 'installation', action: 'created', body: VECTOR_1, note: 'reference vector 1, verbatim' },
    { resource: 'installation', action: 'deleted', body: env('deleted', installationData(installed)) },
    { resource: 'issue', action: 'created', body: env('created', issueCreatedData(ISSUE, issueUrls(BASE, ORG.slug, ISSUE.id, '1')), SENTRY_ACTOR) },
    { resource: 'issue', action: 'resolved', body: env('resolved', issueWorkflowData({ ...ISSUE, status: 'resolved', substatus: null }, { resolution_type: 'resolved' })) },
    { resource: 'issue', action: 'assigned', body: env('assigned', issueWorkflowData(ISSUE, { assignee: { type: 'user', name: 'Meredith Heller', id: 1, email: 'meredith@example.com' } })) },
    { resource: 'issue', action: 'ignored', body: env('ignored', issueWorkflowData({ ...ISSUE, status: 'ignored', substatus: 'archived_forever' })) },
    { resource: 'issue', action: 'archived', body: env('archived', issueWorkflowData({ ...ISSUE, status: 'ignored', substatus: 'archived_forever' })), note: 'legacy name of issue.ignored' },
    { resource: 'issue', action: 'unresolved', body: env('unresolved', issueWorkflowData({ ...ISSUE, substatus: 'ongoing' })) },
    { resource: 'error', action: 'created', body: env('created', errorData(EVENT), SENTRY_ACTOR) },
    { resource: 'comment', action: 'created', body: VECTOR_2, note: 'reference vector 2, verbatim: non-ASCII escaped as \\uXXXX; JSON.stringify(JSON.parse(body)) differs' },
    { resource: 'comment', action: 'updated', body: sentryJson(envelope('updated', 'eac5a0ae-60ec-418f-9318-46dc5e7e52ec', comment('edited: naïve café'), userActor(1, 'colleen'))) },
    { resource: 'comment', action: 'deleted', body: sentryJson(envelope('deleted', 'eac5a0ae-60ec-418f-9318-46dc5e7e52ec', comment('adding a comment'), userActor(1, 'colleen'))) },
    { resource: 'event_alert', action: 'triggered', body: env('triggered', eventAlertData({ ...EVENT, triggeredRule: 'Send a notification for new issues' }), SENTRY_ACTOR) },
  ];
  for (const [action, status] of [['critical', 2], ['warning', 1], ['resolved', 0]] as const) {
    list.push({ resource: 'metric_alert', action, body: env(action, metricAlertData({ baseUrl: BASE, orgSlug: ORG.slug, alertId: '7', title: 'High error rate', status, descriptionText: '1000 events in the last minute' }), SENTRY_ACTOR) });
  }
  return list;
}

function headers(resource: string, signature: string, index: number): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'Request-ID': index.toString(16).padStart(32, '0'),
    'Sentry-Hook-Resource': resource,
    'Sentry-Hook-Timestamp': String(Math.floor(TIME / 1000)),
    'Sentry-Hook-Signature': signature,
  };
}

/** Builds every fixture in memory: file name → exact content, and the manifest. */
export function buildWebhookFixtures(): { files: Map<string, string>; manifest: FixtureEntry[] } {
  const files = new Map<string, string>();
  const manifest: FixtureEntry[] = [];
  const add = (entry: Omit<FixtureEntry, 'secret' | 'signature' | 'headers' | 'bytes'>, body: string, hdrs?: Record<string, string>): void => {
    const signature = sign(FIXTURE_SECRET, body);
    files.set(entry.file, body);
    const reserialized = body === '' ? body : JSON.stringify(JSON.parse(body));
    manifest.push({
      ...entry, secret: FIXTURE_SECRET, signature,
      headers: hdrs ?? headers(entry.resource ?? '', signature, manifest.length + 1),
      bytes: Buffer.byteLength(body),
      ...(reserialized === body ? {} : { reserializedSignature: sign(FIXTURE_SECRET, reserialized) }),
    });
  };
  for (const item of bodies()) {
    add({ file: `${item.resource}.${item.action}.json`, resource: item.resource, action: item.action, ...(item.note ? { note: item.note } : {}) }, item.body);
  }
  add({ file: 'empty-body.json', resource: null, action: null, note: 'UI-component request with an empty body: the signature covers ""; header Sentry-App-Signature' }, '', {
    'Content-Type': 'application/json', 'Request-ID': '0'.repeat(31) + 'e', 'Sentry-App-Signature': sign(FIXTURE_SECRET, ''),
  });
  // Written out as Python would send it: a JS object cannot keep "10" before "2".
  const numbers = `{"action":"created","installation":{"uuid":"${INSTALL}"},"data":{"10":"ten","2":"two","float":1.0,"ratio":0.1,"big":12345678901234567890,"nested":{"1":true,"0":false}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`;
  add({ file: 'numbers.json', resource: 'issue', action: 'created', note: 'floats (1.0), a large int beyond 2^53 and integer-like keys: re-serialising changes the bytes' }, numbers);
  return { files, manifest };
}

/** The manifest file's exact content. */
export function manifestText(manifest: FixtureEntry[]): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Writes the fixtures to `dir`. */
export async function writeWebhookFixtures(dir = FIXTURE_DIR): Promise<number> {
  const { files, manifest } = buildWebhookFixtures();
  await mkdir(dir, { recursive: true });
  for (const [name, content] of files) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'index.json'), manifestText(manifest));
  return files.size;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const count = await writeWebhookFixtures();
  console.log(`wrote ${count} webhook fixtures and index.json to ${dirname(join(FIXTURE_DIR, 'x'))}`);
}
