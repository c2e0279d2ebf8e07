/**
 * Robustness and security: bad input gets a clear 4xx and the implementation keeps serving; no
 * request reaches an unexpected Sentry path; nothing secret is printed.
 */
import { connect } from 'node:net';
import {
  DOCS, defineCases, describeRequests, envelope, expectStatus, expectStillServing, installationBody, is4xx, isNot5xx,
  postWebhook, rememberTokens, uuid,
} from './support.ts';
import type { Answer, CaseContext } from '../harness.ts';

const SEC13 = 'sentry-platform.md §13 (webhook receiver)';

/** Installation ids that are not UUIDs: path traversal, encoded slashes, a query, a trailing slash. */
const INJECTIONS = ['../../../../etc/passwd', '..%2F..%2Fapi%2F0%2Forganizations%2F', 'a/../../b', `${'x'.repeat(36)}?admin=1`, '00000000-0000-4000-8000-00000000000/'];

/**
 * Sends `send(bad)` for every injection and checks each answer; after `settleMs` no request may
 * have reached Sentry on a path the emulator could not route (or with traversal in it), and the
 * implementation still serves.
 */
async function expectInjectionsStopped(
  ctx: CaseContext,
  options: { send: (bad: string) => Promise<Answer>; ok: (status: number) => boolean; expected: string; what: (bad: string) => string; settleMs: number; failure: string },
): Promise<void> {
  for (const bad of INJECTIONS) expectStatus(ctx, await options.send(bad), options.ok, options.expected, options.what(bad));
  await ctx.settle(options.settleMs);
  const stray = ctx.sentryRequests().filter((r) => r.endpoint === 'unknown' || r.path.includes('..') || r.path.includes('%2F') || r.path.includes('passwd'));
  if (stray.length) ctx.fail(options.failure, { actual: describeRequests(stray) });
  await expectStillServing(ctx);
}

export default defineCases([
  {
    id: 'ROB-001', area: 'robustness', level: 'MUST',
    title: 'malformed JSON (correctly signed) gets 400 and the implementation keeps serving',
    clause: { section: SEC13, url: DOCS.webhooks },
    requirement: 'Bad request → clear 4xx, never a crash.',
    async run(ctx) {
      const answer = await postWebhook(ctx, { resource: 'issue', body: '{"action":"created","installation":{"uuid":' });
      expectStatus(ctx, answer, is4xx, '400 (4xx)', 'malformed JSON');
      await expectStillServing(ctx);
    },
  },
  {
    id: 'ROB-002', area: 'robustness', level: 'MUST',
    title: 'an oversized body (10 MiB) is refused with 413/4xx and the implementation keeps serving',
    clause: { section: `${SEC13} (size limit)`, url: DOCS.webhooks },
    requirement: 'Every external input has a limit: a huge body is refused (413, or the connection closed mid-upload), not accepted, and the server keeps serving.',
    async run(ctx) {
      const body = Buffer.alloc(10 * 1024 * 1024, 0x20);
      body.write('{"action":"created","installation":{"uuid":"x"},"data":{"pad":"', 0);
      let status = 0;
      try {
        status = (await postWebhook(ctx, { resource: 'issue', body, timeoutMs: 15_000 })).status;
      } catch (error) {
        // A server that answers 413 and closes while we are still uploading can reset the connection
        // before its answer is read: a refusal all the same (that it still serves is checked below).
        ctx.note(`the connection was closed during the upload: ${(error as Error).message}`);
      }
      if (status && !is4xx(status)) ctx.fail('oversized body not refused with 4xx', { expected: '413 (or the connection closed mid-upload)', actual: String(status) });
      await expectStillServing(ctx);
    },
  },
  {
    id: 'ROB-003', area: 'robustness', level: 'MUST',
    title: 'wrong methods on the webhook path get 4xx (405)',
    clause: { section: SEC13, url: DOCS.webhooks },
    requirement: 'Only POST is a webhook; GET/PUT/DELETE are refused with 405 (4xx) and change nothing.',
    async run(ctx) {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const answer = await ctx.http.send(method, ctx.settings.webhookPath);
        expectStatus(ctx, answer, is4xx, '405 (4xx)', `${method} ${ctx.settings.webhookPath}`);
      }
      await expectStillServing(ctx);
    },
  },
  {
    id: 'ROB-004', area: 'robustness', level: 'MUST',
    title: 'a POST to the setup path gets 4xx',
    clause: { section: 'sentry-platform.md §1 (the browser GETs the redirect URL)', url: DOCS.publicIntegration },
    requirement: 'The setup path answers GET only.',
    async run(ctx) {
      const answer = await ctx.http.send('POST', `${ctx.settings.setupPath}?installationId=${uuid()}&code=${'a'.repeat(32)}&orgSlug=x`, { body: '' });
      expectStatus(ctx, answer, is4xx, '405 (4xx)', `POST ${ctx.settings.setupPath}`);
    },
  },
  {
    id: 'ROB-005', area: 'robustness', level: 'MUST',
    title: 'path injection in installationId on /setup gets 4xx and never reaches Sentry',
    clause: { section: 'sentry-platform.md §13; DESIGN (every external input has a limit)', url: DOCS.publicIntegration },
    requirement: 'installationId is a UUID: anything else is refused before it is put into an API path.',
    run: (ctx) => expectInjectionsStopped(ctx, {
      send: (bad) => ctx.http.send('GET', `${ctx.settings.setupPath}?installationId=${encodeURIComponent(bad)}&code=${'a'.repeat(32)}&orgSlug=acme`),
      ok: is4xx, expected: '4xx', what: (bad) => `installationId=${bad}`,
      settleMs: 100, failure: 'an injected installationId reached Sentry',
    }),
  },
  {
    id: 'ROB-006', area: 'robustness', level: 'MUST',
    title: 'path injection in a webhook\'s installation uuid never reaches Sentry',
    clause: { section: 'sentry-platform.md §13', url: DOCS.installationWebhook },
    requirement: 'A signed payload is still input: an installation uuid that is not a UUID is refused or ignored, never put into a path.',
    run: (ctx) => expectInjectionsStopped(ctx, {
      send: (bad) => postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'created', bad, 'acme', 'b'.repeat(32)) }),
      ok: isNot5xx, expected: '4xx or 2xx (ignored)', what: (bad) => `installation.uuid=${bad}`,
      settleMs: 150, failure: 'an injected installation uuid reached Sentry',
    }),
  },
  {
    id: 'ROB-007', area: 'robustness', level: 'MUST',
    title: 'well-formed JSON of the wrong shape gets 4xx or 2xx, never 5xx',
    clause: { section: SEC13, url: DOCS.webhooks },
    requirement: 'Validate envelopes (action, installation.uuid, data): arrays, null, strings and missing fields are bad requests.',
    async run(ctx) {
      for (const body of ['[]', 'null', '"created"', '42', '{}', '{"action":7,"installation":null,"data":[]}', '{"action":"created","installation":{"uuid":"x"}}']) {
        const answer = await postWebhook(ctx, { resource: 'issue', body });
        expectStatus(ctx, answer, isNot5xx, '4xx (or 2xx ignored)', `body ${body}`);
      }
      await expectStillServing(ctx);
    },
  },
  {
    id: 'ROB-008', area: 'robustness', level: 'SHOULD',
    title: 'an unknown path gets 404',
    clause: { section: 'RFC 9110 §15.5.5', url: 'https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5' },
    requirement: 'Unknown paths are 404, not a catch-all 200.',
    async run(ctx) {
      const answer = await ctx.http.send('GET', `/conformance-no-such-path-${Date.now()}`);
      expectStatus(ctx, answer, (s) => s === 404, '404', 'unknown path');
    },
  },
  {
    id: 'ROB-009', area: 'robustness', level: 'SHOULD',
    title: 'error answers carry no stack traces or file paths',
    clause: { section: 'CONTRIBUTING (clear error, never a stack trace)', url: 'https://owasp.org/Top10/A05_2021-Security_Misconfiguration/' },
    requirement: 'Error pages say what was wrong, not where in the code.',
    async run(ctx) {
      const answers = [
        await postWebhook(ctx, { resource: 'issue', body: '{"broken"' }),
        await ctx.http.send('GET', `${ctx.settings.setupPath}?installationId=nope`),
        await postWebhook(ctx, { resource: 'issue', body: '[]' }),
      ];
      const leaky = answers.filter((a) => /\bat .+:\d+:\d+\)?|node:internal|\/src\/|Traceback \(most recent/.test(a.body));
      if (leaky.length) ctx.fail('an error answer shows a stack trace', { actual: leaky[0]?.body.slice(0, 200) });
    },
  },
  {
    id: 'ROB-010', area: 'robustness', level: 'MUST',
    title: 'thirty concurrent badly-signed requests are all refused and the implementation keeps serving',
    clause: { section: SEC13, url: DOCS.webhooks },
    requirement: 'A flood of bad requests is answered 401 each, without taking the process down.',
    async run(ctx) {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
        postWebhook(ctx, { resource: 'issue', body: envelope('created', uuid(), { n: i }), signature: '0'.repeat(64) })));
      const wrong = answers.filter((a) => a.status !== 401);
      if (wrong.length) ctx.fail('not every bad signature got 401', { actual: wrong.map((a) => a.status).join(',') });
      await expectStillServing(ctx);
    },
  },
  {
    id: 'ROB-011', area: 'robustness', level: 'SHOULD',
    title: 'a client trickling its headers does not block other webhooks',
    clause: { section: 'sentry-platform.md §4.1 (1 s budget for everyone)', url: DOCS.webhooks },
    requirement: 'A slow client must not delay the acknowledgement of other deliveries.',
    async run(ctx) {
      const url = new URL(ctx.target.url);
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => {});
      socket.write(`POST ${ctx.settings.webhookPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n`);
      try {
        const started = performance.now();
        await expectStillServing(ctx);
        const ms = performance.now() - started;
        if (ms >= 1000) ctx.fail('a valid webhook waited behind a slow client', { expected: '< 1000 ms', actual: `${Math.round(ms)} ms` });
      } finally {
        socket.destroy();
      }
    },
  },
  {
    id: 'ROB-012', area: 'robustness', level: 'MUST',
    title: 'no secret appears in the implementation\'s output',
    clause: { section: 'sentry-platform.md §13 (never log tokens, refresh tokens, client secret, grant codes or signatures)', url: DOCS.publicIntegration },
    requirement: 'Never print the client secret, access or refresh tokens, grant codes, signatures or Pushover keys — checked over everything the process printed during the whole run.',
    last: true,
    needsOutput: true,
    async run(ctx) {
      // Every credential on the Sentry emulator, webhook signatures and the grant codes in deliveries included.
      rememberTokens(ctx);
      const output = ctx.target.output();
      const found = new Map<string, { count: number; line: string }>();
      for (const [value, kind] of ctx.secrets.entries()) {
        const at = output.indexOf(value);
        if (at < 0) continue;
        // The first line it was printed on, masked: where to look (a request log line printing a
        // query string with the grant code is a common one).
        const line = output.slice(output.lastIndexOf('\n', at) + 1, (output.indexOf('\n', at) + 1 || output.length + 1) - 1);
        const seen = found.get(kind);
        found.set(kind, { count: (seen?.count ?? 0) + 1, line: seen?.line ?? ctx.secrets.redact(line).slice(0, 240) });
      }
      if (found.size) {
        ctx.fail('secrets found in stdout/stderr', {
          expected: 'none',
          actual: [...found].map(([kind, { count, line }]) => `${count} × ${kind}, first in: ${line}`).join('\n'),
        });
      }
    },
  },
]);
