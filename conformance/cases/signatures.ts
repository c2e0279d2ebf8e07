/**
 * Webhook signatures: HMAC-SHA256 over the raw request bytes with the client secret, 64 lowercase
 * hex digits in Sentry-Hook-Signature (Sentry-App-Signature for UI-component requests).
 * Bodies are sent straight to the implementation, signed (or mis-signed) by the harness.
 */
import { sign } from '../../src/sentry/signature.ts';
import type { Answer, CaseContext } from '../harness.ts';
import { DOCS, commentBody, defineCases, expectAcked, expectStatus, expectStillServing, installFresh, is2xx, postWebhook, uuid } from './support.ts';

const SEC = 'sentry-platform.md §4.2–§4.3';
const is401 = (s: number) => s === 401;

/** A signature for `body` made from the app's client secret (null: no Sentry-Hook-Signature header). */
type Signer = (body: string, secret: string) => string | null;

/** Posts a non-ASCII comment webhook signed by `signer` (default: correctly), with extra `headers`. */
function postComment(ctx: CaseContext, signer?: Signer, headers?: Record<string, string>): Promise<Answer> {
  const body = commentBody(uuid());
  const signature = signer ? signer(body, ctx.sentry.app.clientSecret) : undefined;
  return postWebhook(ctx, { resource: 'comment', body, signature, headers });
}

/** A comment signed by `signer` is refused with 401, and the implementation keeps serving. */
async function rejected(ctx: CaseContext, signer: Signer, what: string, headers?: Record<string, string>): Promise<void> {
  expectStatus(ctx, await postComment(ctx, signer, headers), is401, '401', what);
  await expectStillServing(ctx);
}

export default defineCases([
  {
    id: 'SIG-001', area: 'signatures', level: 'MUST',
    title: 'a correct signature over a non-ASCII (\\uXXXX-escaped) body is accepted',
    clause: { section: `${SEC} (vector 2)`, url: DOCS.webhooks },
    requirement: 'Verify the HMAC over the raw request bytes; re-serialising the parsed JSON changes "\\u00dc" into "Ü" and breaks verification.',
    async run(ctx) {
      expectStatus(ctx, await postComment(ctx), is2xx, '2xx', 'a correctly signed non-ASCII body');
    },
  },
  {
    id: 'SIG-002', area: 'signatures', level: 'MUST',
    title: 'a signature computed over re-serialised JSON is rejected',
    clause: { section: `${SEC} (JSON.stringify(JSON.parse(body)) MUST NOT match)`, url: DOCS.webhooks },
    requirement: 'Only the HMAC of the bytes received is valid; a signature of JSON.stringify(JSON.parse(body)) is not.',
    async run(ctx) {
      const answer = await postComment(ctx, (body, secret) => sign(secret, JSON.stringify(JSON.parse(body))));
      expectStatus(ctx, answer, is401, '401', 'signature over re-serialised JSON');
    },
  },
  {
    id: 'SIG-003', area: 'signatures', level: 'MUST',
    title: 'a tampered body (one byte changed) is rejected with 401',
    clause: { section: SEC, url: DOCS.webhooks },
    requirement: 'Reject a body whose HMAC does not match with 401.',
    async run(ctx) {
      const body = commentBody(uuid(), 'pay 100');
      const answer = await postWebhook(ctx, { resource: 'comment', body: body.replace('pay 100', 'pay 900'), signature: sign(ctx.sentry.app.clientSecret, body) });
      expectStatus(ctx, answer, is401, '401', 'tampered body');
    },
  },
  {
    id: 'SIG-004', area: 'signatures', level: 'MUST',
    title: 'a missing signature header is rejected with 401',
    clause: { section: `${SEC}; §13 (no bypass in any mode)`, url: DOCS.webhooks },
    requirement: 'Reject missing signatures with 401; no bypass in any mode.',
    run: (ctx) => rejected(ctx, () => null, 'no signature header'),
  },
  {
    id: 'SIG-005', area: 'signatures', level: 'MUST',
    title: 'an empty signature is rejected with 401',
    clause: { section: SEC, url: DOCS.webhooks },
    requirement: 'Reject an empty signature with 401.',
    run: (ctx) => rejected(ctx, () => '', 'empty signature'),
  },
  {
    id: 'SIG-006', area: 'signatures', level: 'MUST',
    title: 'a too-short signature is rejected with 401, not a 5xx',
    clause: { section: `${SEC} (length check first)`, url: DOCS.webhooks },
    requirement: 'Constant-time compare with a length check first: a wrong-length signature is rejected, not a crash.',
    run: (ctx) => rejected(ctx, (body, secret) => sign(secret, body).slice(0, 63), '63-digit signature'),
  },
  {
    id: 'SIG-007', area: 'signatures', level: 'MUST',
    title: 'a too-long signature is rejected with 401, not a 5xx',
    clause: { section: `${SEC} (length check first)`, url: DOCS.webhooks },
    requirement: 'A signature with extra digits is not a prefix match.',
    run: (ctx) => rejected(ctx, (body, secret) => `${sign(secret, body)}00`, '66-digit signature'),
  },
  {
    id: 'SIG-008', area: 'signatures', level: 'MUST',
    title: 'a non-hex signature is rejected with 401, not a 5xx',
    clause: { section: SEC, url: DOCS.webhooks },
    requirement: 'Non-hex signatures are rejected, never an exception.',
    run: (ctx) => rejected(ctx, () => 'z'.repeat(64), 'non-hex signature'),
  },
  {
    id: 'SIG-009', area: 'signatures', level: 'MUST',
    title: 'a signature made with another secret is rejected with 401',
    clause: { section: `${SEC} (key = Client Secret)`, url: DOCS.webhooks },
    requirement: 'The key is the app\'s client secret.',
    async run(ctx) {
      const answer = await postComment(ctx, (body, secret) => sign(`${secret}x`, body));
      expectStatus(ctx, answer, is401, '401', 'signature with another secret');
    },
  },
  {
    id: 'SIG-010', area: 'signatures', level: 'MUST',
    title: 'an uppercase-hex signature gets 401 or 2xx, never a 5xx',
    clause: { section: `${SEC} (Sentry sends lowercase; profile decides)`, url: DOCS.webhooks },
    requirement: 'Sentry never sends uppercase hex; accepting or rejecting it are both allowed, crashing is not.',
    async run(ctx) {
      const answer = await postComment(ctx, (body, secret) => sign(secret, body).toUpperCase());
      expectStatus(ctx, answer, (s) => s === 401 || is2xx(s), '401 or 2xx', 'uppercase signature');
    },
  },
  {
    id: 'SIG-011', area: 'signatures', level: 'MUST',
    title: 'Sentry-App-Signature alone (UI-component requests) is accepted',
    clause: { section: 'sentry-platform.md §4.2 (UI-component requests)', url: DOCS.webhooks },
    requirement: 'Accept Sentry-App-Signature (same HMAC) for UI-component requests.',
    async run(ctx) {
      const body = commentBody(uuid());
      const answer = await postWebhook(ctx, { resource: 'comment', body, signature: null, headers: { 'sentry-app-signature': sign(ctx.sentry.app.clientSecret, body) } });
      expectStatus(ctx, answer, is2xx, '2xx', 'Sentry-App-Signature only');
    },
  },
  {
    id: 'SIG-012', area: 'signatures', level: 'MUST',
    title: 'a bad Sentry-App-Signature is rejected with 401',
    clause: { section: 'sentry-platform.md §4.2 (UI-component requests)', url: DOCS.webhooks },
    requirement: 'The UI-component header is verified like the webhook header.',
    run: (ctx) => rejected(ctx, () => null, 'bad Sentry-App-Signature', { 'sentry-app-signature': '0'.repeat(64) }),
  },
  {
    id: 'SIG-013', area: 'signatures', level: 'MUST',
    title: 'an empty body signed as "" is not refused as unsigned',
    clause: { section: 'sentry-platform.md §4.3 (empty body signed as "")', url: DOCS.webhooks },
    requirement: 'Sentry sends some requests with an empty body; the signature then covers "" — it verifies (any 2xx/4xx answer except 401, never 5xx).',
    async run(ctx) {
      const answer = await postWebhook(ctx, { resource: 'comment', body: '' });
      expectStatus(ctx, answer, (s) => s !== 401 && s < 500, 'not 401, not 5xx', 'empty body signed as ""');
    },
  },
  {
    id: 'SIG-014', area: 'signatures', level: 'MUST',
    title: 'floats, large integers and integer-like keys still verify',
    clause: { section: `${SEC} (number formatting, key order)`, url: DOCS.webhooks },
    requirement: 'Re-serialising changes 1.0 → 1, reorders integer-like keys and rounds large integers; only the raw bytes verify.',
    async run(ctx) {
      const body = `{"action":"created","installation":{"uuid":"${uuid()}"},"data":{"metric_alert":{"b":1,"10":"ten","2":"two","threshold":1.0,"big":12345678901234567890,"ratio":1e-7}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`;
      const answer = await postWebhook(ctx, { resource: 'metric_alert', body });
      expectStatus(ctx, answer, is2xx, '2xx', 'body with floats/large ints/integer-like keys');
    },
  },
  {
    id: 'SIG-015', area: 'signatures', level: 'MUST',
    title: 'custom webhook headers next to Sentry\'s do not disturb verification',
    clause: { section: 'sentry-platform.md §4.2 (custom headers merged first)', url: DOCS.webhooks },
    requirement: 'Apps may configure extra headers; they are not signed and must not affect verification.',
    async run(ctx) {
      const answer = await postComment(ctx, undefined, { 'x-custom-team': 'payments', 'x-signature': 'nonsense' });
      expectStatus(ctx, answer, is2xx, '2xx', 'signed body with custom headers');
    },
  },
  {
    id: 'SIG-016', area: 'signatures', level: 'MUST',
    title: 'a correctly signed comment delivered by the emulator (exact Sentry bytes) is accepted',
    clause: { section: `${SEC} (vector 2 through the real sender)`, url: DOCS.webhooks },
    requirement: 'Sentry\'s own bytes (compact, \\uXXXX escapes, key order action, installation, data, actor) verify.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const delivery = await ctx.sentry.emitWebhook({
        installationId: inst.installationId, resource: 'comment', action: 'created',
        data: { comment_id: 1234, issue_id: 100, project_slug: 'sentry', timestamp: '2022-03-02T21:51:44.118160Z', comment: 'Über 🚀 «ünïcödé»' },
      });
      expectAcked(ctx, delivery.attempts[0]?.status ?? 0, 'emulator delivery of a non-ASCII comment not accepted');
    },
  },
  {
    id: 'SIG-017', area: 'signatures', level: 'MUST',
    title: 'a signature with a "sha256=" prefix is rejected',
    clause: { section: `${SEC} (64 lowercase hex, no prefix)`, url: DOCS.webhooks },
    requirement: 'The header is exactly 64 hex digits; other formats (GitHub-style prefixes) are not Sentry signatures.',
    async run(ctx) {
      const answer = await postComment(ctx, (body, secret) => `sha256=${sign(secret, body)}`);
      expectStatus(ctx, answer, (s) => s === 401 || s === 400, '401 (or 400)', 'prefixed signature');
    },
  },
]);
