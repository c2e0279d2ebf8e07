/** Unit tests of the harness pieces: selection, baselines, verdicts, arguments, reports, docs. */
import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allCases } from './cases/index.ts';
import {
  AREAS, countVerdicts, exitCodeFor, inRunOrder, parseBaseline, rememberSentrySecrets, runCase, SecretBook, selectCases, verdictFor,
  type CaseResult, type SessionParts, type SuiteResult,
} from './harness.ts';
import type { SentryEmulator } from './emulator/types.ts';
import { parseConformanceArgs, remoteEnvText, run } from './main.ts';
import { junitReport } from './report/junit.ts';
import { jsonReport } from './report/json.ts';
import { failureDetails, lineMarker, summary } from './report/console.ts';
import { catalogue, DOC_PATH, withCatalogue } from '../scripts/gen-conformance-docs.ts';
import { tempDir } from '../src/testing/runtime.ts';

function result(id: string, verdict: CaseResult['verdict'], extra: Partial<CaseResult> = {}): CaseResult {
  return {
    id, area: 'signatures', title: `title <${id}> & "q"`, level: 'MUST', clause: { section: '§4', url: 'https://x' },
    requirement: 'r', verdict, passed: verdict === 'pass' || verdict === 'unexpected-pass', durationMs: 5, ...extra,
  };
}

describe('the case catalogue', () => {
  it('has at least 60 cases with unique ids, known areas and complete clauses', () => {
    assert.ok(allCases.length >= 60, `${allCases.length} cases`);
    assert.equal(new Set(allCases.map((c) => c.id)).size, allCases.length);
    for (const c of allCases) {
      assert.match(c.id, /^[A-Z]{3}-\d{3}$/);
      assert.ok((AREAS as readonly string[]).includes(c.area), c.id);
      assert.ok(c.clause.section && /^https:\/\//.test(c.clause.url) && c.requirement && c.title, c.id);
    }
  });
  it('marks "(exec only)" every case the harness skips against --target, including the output check ROB-012', async () => {
    const remote = {
      settings: { setupPath: '/setup', webhookPath: '/webhook', pushoverRetryMinMs: 200, waitMs: 10_000 },
      secrets: new SecretBook(),
      target: { mode: 'remote', url: 'http://127.0.0.1:1', canRestart: false, exited: () => undefined, output: () => '' },
      sentry: { clearFaults() {}, requests: () => [], deliveries: () => [] },
      pushover: { clearFaults() {}, messages: () => [], attempts: () => [] },
    } as unknown as SessionParts;
    const rows = new Map(catalogue(allCases).split('\n').filter((l) => /^\| [A-Z]{3}-\d{3} /.test(l)).map((l) => [l.split(' | ')[0]!.slice(2), l]));
    const skipped: string[] = [];
    for (const c of allCases.filter((x) => x.needsRestart || x.needsDataDir || x.needsOutput || x.id === 'ROB-012')) {
      // Skipped before run: a case that would run is never started here (its run is replaced).
      const r = await runCase(remote, { ...c, run: async () => {} });
      if (r.verdict === 'skip') skipped.push(c.id);
      assert.match(rows.get(c.id) ?? '', /\(exec only\)/, `${c.id} is skipped against --target but its catalogue row does not say so`);
    }
    assert.ok(skipped.includes('ROB-012'), 'ROB-012 is skipped against --target by the harness');
    assert.deepEqual(skipped, allCases.filter((x) => x.needsRestart || x.needsDataDir || x.needsOutput).map((x) => x.id));
  });
  it('docs/conformance.md carries the current generated catalogue', async () => {
    const doc = await readFile(DOC_PATH, 'utf8');
    assert.equal(withCatalogue(doc, allCases), doc, 'run: node --import tsx scripts/gen-conformance-docs.ts');
  });
});

describe('selection, baselines and verdicts', () => {
  it('selects by id, id prefix and area, and skips', () => {
    const ids = (cases: readonly { id: string }[]) => cases.map((c) => c.id);
    assert.deepEqual(ids(selectCases(allCases, ['SIG-003'])), ['SIG-003']);
    assert.deepEqual(ids(selectCases(allCases, ['tok'])), ids(allCases.filter((c) => c.id.startsWith('TOK-'))));
    assert.deepEqual(ids(selectCases(allCases, ['uninstall'])), ids(allCases.filter((c) => c.area === 'uninstall')));
    assert.deepEqual(ids(selectCases(allCases, [], ['SIG'])), ids(allCases.filter((c) => c.area !== 'signatures')));
    assert.deepEqual(ids(selectCases(allCases, ['TOK', 'SIG-001'], ['TOK-001'])), ['TOK-002', 'TOK-003', 'TOK-004', 'TOK-005', 'TOK-006', 'SIG-001']);
  });
  it('runs `last` cases at the end, otherwise in catalogue order', () => {
    const order = inRunOrder(allCases).map((c) => c.id);
    const last = allCases.filter((c) => c.last).map((c) => c.id);
    assert.ok(last.length > 0);
    assert.deepEqual(order.slice(-last.length), last);
    assert.deepEqual(order.slice(0, -last.length), allCases.filter((c) => !c.last).map((c) => c.id));
  });
  it('counts every verdict, zero when absent', () => {
    assert.deepEqual(countVerdicts([result('A', 'pass'), result('B', 'warn'), result('C', 'pass')]),
      { pass: 2, fail: 0, warn: 1, skip: 0, expected: 0, 'unexpected-pass': 0 });
  });
  it('parses baselines with comments, and JSON arrays', () => {
    assert.deepEqual([...parseBaseline('# known\nSIG-001  # reason\n\nTOK-004\n')], ['SIG-001', 'TOK-004']);
    assert.deepEqual([...parseBaseline('["A-001"]')], ['A-001']);
  });
  it('maps outcomes to verdicts by level, profile and baseline', () => {
    const must = { id: 'X-001', level: 'MUST' as const };
    const should = { id: 'X-002', level: 'SHOULD' as const };
    assert.equal(verdictFor(must, 'fail', {}), 'fail');
    assert.equal(verdictFor(should, 'fail', {}), 'warn');
    assert.equal(verdictFor(should, 'fail', { strict: true }), 'fail');
    assert.equal(verdictFor(must, 'fail', { expectedFailures: new Set(['X-001']) }), 'expected');
    assert.equal(verdictFor(must, 'pass', { expectedFailures: new Set(['X-001']) }), 'unexpected-pass');
    assert.equal(verdictFor(must, 'skip', {}), 'skip');
    assert.equal(exitCodeFor([result('A', 'pass'), result('B', 'warn'), result('C', 'expected')]), 0);
    assert.equal(exitCodeFor([result('A', 'pass'), result('B', 'unexpected-pass')]), 1);
  });
  it('redacts known secrets, keeping kind and last four characters', () => {
    const book = new SecretBook();
    book.add('access token', 'ec48bf98637d44c294ead7566513686237e74ab6');
    assert.equal(book.redact('Bearer ec48bf98637d44c294ead7566513686237e74ab6!'), 'Bearer [access token …4ab6]!');
  });
  it('remembers every credential on the Sentry emulator, webhook signatures and delivered grant codes included', () => {
    const book = new SecretBook();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl';
    const sentry = {
      requests: () => [
        { endpoint: 'token.refresh', headers: {}, body: '{"grant_type":"refresh_token","refresh_token":"r-sent-0123456789"}', responseBody: '{"token":"t-issued-0123456789","refreshToken":"r-issued-0123456789"}' },
        { endpoint: 'token.jwt', headers: { authorization: `Bearer ${jwt}` }, body: '{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer"}', responseBody: 'not json' },
        { endpoint: 'issue', headers: { authorization: 'Bearer t-notatoken-0123456789' }, body: '', responseBody: '{"token":"t-notatoken-0123456789"}' },
      ],
      deliveries: () => [{ signature: 'f'.repeat(64), body: '{"action":"created","data":{"installation":{"code":"0123456789abcdef"}}}' }],
    } as unknown as SentryEmulator;
    rememberSentrySecrets(sentry, book);
    assert.deepEqual(new Map(book.entries()), new Map([
      ['t-issued-0123456789', 'access token'], ['r-issued-0123456789', 'refresh token'], ['r-sent-0123456789', 'refresh token'],
      [jwt, 'JWT'], ['f'.repeat(64), 'webhook signature'], ['0123456789abcdef', 'grant code'],
    ]));
  });
});

describe('command line', () => {
  it('parses targets, profiles and repeated reports', () => {
    const a = parseConformanceArgs(['--exec', 'node app.mjs', '--strict', '--only', 'TOK,SIG', '--skip=PER', '--report', 'json', 'a.json', '--report', 'junit=b.xml']);
    assert.equal(a.exec, 'node app.mjs');
    assert.equal(a.strict, true);
    assert.deepEqual(a.only, ['TOK', 'SIG']);
    assert.deepEqual(a.skip, ['PER']);
    assert.deepEqual(a.reports, [{ kind: 'json', file: 'a.json' }, { kind: 'junit', file: 'b.xml' }]);
  });
  it('rejects bad combinations clearly', () => {
    assert.throws(() => parseConformanceArgs(['--target', 'http://127.0.0.1:1']), /--sentry-port/);
    assert.throws(() => parseConformanceArgs(['--exec', 'a', '--target', 'http://x:1', '--sentry-port', '1', '--pushover-port', '2']), /not both/);
    assert.throws(() => parseConformanceArgs(['--report', 'html', 'x']), /json or junit/);
    assert.throws(() => parseConformanceArgs(['--nope']), /unknown option/);
  });
  it('an empty, blank, non-decimal or out-of-range number is a usage error, not 0 or a number nobody typed', () => {
    for (const [flag, value] of [['--sentry-port', ''], ['--pushover-port', ' '], ['--sentry-port', '0x10'], ['--pushover-port', '1e3'],
      ['--sentry-port', '70000'], ['--wait-ms', ''], ['--retry-min-ms', '2.5']] as const) {
      assert.throws(() => parseConformanceArgs([flag, value]), (e: Error) => e.message.startsWith(`${flag} needs `) && e.message.endsWith(JSON.stringify(value)), `${flag} ${JSON.stringify(value)}`);
    }
    const a = parseConformanceArgs(['--sentry-port', '0', '--pushover-port=65535', '--wait-ms', '20000']);
    assert.deepEqual([a.sentryPort, a.pushoverPort, a.waitMs], [0, 65535, 20000]);
  });
  it('prints the environment a --target implementation must be started with', () => {
    const text = remoteEnvText(parseConformanceArgs(['--target', 'http://127.0.0.1:8080', '--sentry-port', '9001', '--pushover-port', '9002']));
    assert.match(text, /^PORT=8080$/m);
    assert.match(text, /^SENTRY_URL=http:\/\/127\.0\.0\.1:9001$/m);
    assert.match(text, /^PUSHOVER_URL=http:\/\/127\.0\.0\.1:9002$/m);
    assert.match(text, /^VERIFY_INSTALL=true$/m);
    assert.match(text, /^PUSHOVER_RETRY_MIN_MS=200$/m);
    assert.match(remoteEnvText(parseConformanceArgs(['--target', 'http://127.0.0.1:8080', '--sentry-port', '9001', '--pushover-port', '9002', '--retry-min-ms', '750'])), /^PUSHOVER_RETRY_MIN_MS=750$/m);
  });
});

describe('the per-case time limit', { timeout: 10_000 }, () => {
  // Just enough of a session for runCase: nothing is recorded, the target never stops.
  const session = (waitMs: number) => ({
    settings: { setupPath: '/setup', webhookPath: '/webhook', pushoverRetryMinMs: 200, waitMs },
    secrets: new SecretBook(),
    target: { mode: 'exec', url: 'http://127.0.0.1:1', canRestart: true, exited: () => undefined, output: () => '' },
    sentry: { clearFaults() {}, requests: () => [], deliveries: () => [] },
    pushover: { clearFaults() {}, messages: () => [], attempts: () => [] },
  }) as unknown as SessionParts;
  const never = { ...result('LIM-001', 'pass'), timeoutMs: 20, run: () => new Promise<void>(() => {}) };
  it('(evidence) a case that fails before remembering the tokens it caused still shows none of them', async () => {
    const token = 'ec48bf98637d44c294ead7566513686237e74ab67a074c64b3aaca2d93dbb8f1';
    const refresh = 'c866f154a65841638d44ee26364409b0a1a67bd642bd46e7a476f34f810712d6';
    const exchange = {
      id: 1, at: 0, method: 'POST', path: '/api/0/sentry-app-installations/x/authorizations/', headers: {}, status: 201,
      endpoint: 'token.exchange', body: '{"grant_type":"authorization_code","code":"0123456789abcdef0123456789abcdef"}',
      responseBody: JSON.stringify({ id: '1', token, refreshToken: refresh }),
    };
    const parts = session(10_000) as unknown as { sentry: { requests: () => unknown[] } };
    const recorded: unknown[] = [];
    parts.sentry.requests = () => recorded;
    const failing = { ...result('RED-001', 'pass'), run: async () => { recorded.push(exchange); throw new Error(`stuck with ${token}`); } };
    const r = await runCase(parts as unknown as SessionParts, failing);
    const shown = JSON.stringify(r);
    assert.ok(!shown.includes(token) && !shown.includes(refresh) && !shown.includes('0123456789abcdef0123456789abcdef'), shown);
    assert.match(shown, /\[access token …b8f1\]/);
    assert.match(shown, /\[refresh token …12d6\]/);
  });
  it('is the case\'s own at the default --wait-ms', async () => {
    assert.equal((await runCase(session(10_000), never)).message, 'case did not finish within 20 ms');
  });
  it('stretches with a longer --wait-ms, so a case does not time out inside a wait it was told to make', async () => {
    assert.equal((await runCase(session(30_000), never)).message, 'case did not finish within 60 ms');
  });
});

describe('usage errors are found before the run (exit 2, one line, no stack trace)', { timeout: 10_000 }, () => {
  afterEach(() => { mock.restoreAll(); });
  const errorsOf = async (argv: string[]): Promise<{ status: number; errors: string }> => {
    const lines: string[] = [];
    mock.method(console, 'error', (...parts: unknown[]) => { lines.push(parts.join(' ')); });
    mock.method(console, 'log', () => {});
    const status = await run(argv);
    return { status, errors: lines.join('\n') };
  };
  it('an unreadable --expected-failures file', async () => {
    const { status, errors } = await errorsOf(['--only', 'IMG-001', '--expected-failures', '/nonexistent/baseline.txt']);
    assert.equal(status, 2);
    assert.match(errors, /cannot read --expected-failures \/nonexistent\/baseline\.txt/);
  });
  it('an --expected-failures file naming unknown case ids is read, with a warning naming them', async () => {
    const dir = await tempDir('sik-baseline-');
    try {
      const file = join(dir.path, 'baseline.txt');
      await writeFile(file, 'SIG-001\nNOPE-001 # gone\nXYZ-999\n');
      // The missing report directory stops the run right after the baseline was read.
      const { status, errors } = await errorsOf(['--only', 'IMG-001', '--expected-failures', file, '--report', 'json', '/nonexistent-dir/out.json']);
      assert.equal(status, 2);
      assert.match(errors, /^conformance: warning: --expected-failures lists unknown case ids: NOPE-001, XYZ-999$/m);
      assert.doesNotMatch(errors, /SIG-001/);
    } finally {
      await dir.remove();
    }
  });
  it('a report whose directory does not exist', async () => {
    const { status, errors } = await errorsOf(['--only', 'IMG-001', '--report', 'json', '/nonexistent-dir/out.json']);
    assert.equal(status, 2);
    assert.match(errors, /cannot write the json report to \/nonexistent-dir\/out\.json/);
  });
  it('an --only or --skip selector that matches no case, even next to ones that do', async () => {
    const { status, errors } = await errorsOf(['--only', 'TOK,SIG-0003', '--list']);
    assert.equal(status, 2);
    assert.match(errors, /no case matches SIG-0003/);
    assert.equal((await errorsOf(['--skip', 'PERS', '--list'])).status, 2);
    assert.equal((await errorsOf(['--only', 'tok', '--skip', 'signatures', '--list'])).status, 0);
  });
});

describe('reports', () => {
  const suite: SuiteResult = {
    results: [result('SIG-001', 'pass'), result('SIG-002', 'fail', { message: 'got 200 <ok>', expected: '401', actual: '200' }), result('SIG-003', 'skip', { message: 'remote' })],
    strict: false, durationMs: 42, exitCode: 1, counts: { pass: 1, fail: 1, warn: 0, skip: 1, expected: 0, 'unexpected-pass': 0 },
  };
  it('JUnit XML escapes text and counts failures and skips per area', () => {
    const xml = junitReport(suite);
    assert.match(xml, /<testsuite name="conformance.signatures" tests="3" failures="1" errors="0" skipped="1"/);
    assert.match(xml, /<failure message="got 200 &lt;ok&gt;" type="MUST">/);
    assert.ok(!/<ok>/.test(xml));
    assert.match(xml, /title &lt;SIG-001&gt; &amp; &quot;q&quot;/);
  });
  it('the failure block keeps a multi-line expected/actual (a crashed process\'s output) under its label', () => {
    const failed = result('ROB-001', 'fail', { message: 'stopped', expected: 'one\ntwo', actual: 'its last output:\nline 1\nline 2' });
    const pad = ' '.repeat(17);
    assert.equal(failureDetails(failed).split('\n').slice(3).join('\n'), [
      '    expected:    one', `${pad}two`, '    actual:      its last output:', `${pad}line 1`, `${pad}line 2`,
    ].join('\n'));
  });
  it('JSON report round-trips and the summary states the verdict', () => {
    const parsed = JSON.parse(jsonReport(suite, { target: 't' })) as { results: unknown[]; exitCode: number };
    assert.equal(parsed.results.length, 3);
    assert.equal(parsed.exitCode, 1);
    assert.match(summary(suite), /NOT CONFORMANT/);
  });
});

describe('--verbose output marker', () => {
  it('marks every line once, also across chunks that split lines', () => {
    const mark = lineMarker('  | ');
    const out = ['Trace', 'back (most recent call last):\n  File "app.py"', ', line 3\nKeyError: ', "'code'\n", '\n', 'done\n'].map(mark).join('');
    assert.equal(out, '  | Traceback (most recent call last):\n  |   File "app.py", line 3\n  | KeyError: \'code\'\n  | \n  | done\n');
    assert.equal(mark(''), '');
  });
});
