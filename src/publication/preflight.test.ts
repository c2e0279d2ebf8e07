import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { checkPublicHttpsUrl, privateIpv6Reason } from './address.ts';
import { captureRun } from '../images/capture-cli.ts';
import { run } from './cli.ts';
import { checkAppConfig, loadAppConfig } from './preflight.ts';
import { validateUiSchema } from './schema.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const APPS = join(ROOT, 'fixtures/apps');
const manifest = JSON.parse(readFileSync(join(APPS, 'index.json'), 'utf8')) as { files: Array<{ file: string; exit: number; errors: string[]; warnings: string[] }> };

const capture = (args: string[]) => captureRun(run, args);

describe('preflight against fixtures/apps (one bad configuration per rule)', () => {
  afterEach(() => mock.restoreAll());
  for (const entry of manifest.files) {
    it(`${entry.file}: exit ${entry.exit} ${[...entry.errors, ...entry.warnings].join(', ')}`, async () => {
      const r = await capture([join(APPS, entry.file), '--json']);
      assert.equal(r.status, entry.exit, r.out);
      const json = JSON.parse(r.out);
      assert.deepEqual(Object.keys(json), ['files', 'config']);
      const findings = json.config.findings as Array<{ severity: string; code: string; rule: string; field: string; doc: string }>;
      assert.deepEqual(findings.filter((f) => f.severity === 'error').map((f) => f.code), entry.errors);
      assert.deepEqual(findings.filter((f) => f.severity === 'warning').map((f) => f.code), entry.warnings);
      for (const f of findings) {
        assert.ok(f.rule.length > 10 && f.field.length > 0, 'rule in plain words and the field');
        assert.match(f.doc, /^https:\/\/(docs\.sentry\.io|github\.com\/getsentry)\//);
      }
      for (const file of json.files) assert.deepEqual(Object.keys(file), ['path', 'kind', 'ok', 'errors', 'warnings']);
    });
  }
});

describe('preflight details', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => { dir = await tempDir(); });
  after(async () => { await dir.remove(); });
  afterEach(() => mock.restoreAll());

  it('human output: one finding per line with field, rule and doc', async () => {
    const r = await capture([join(APPS, 'bad-event-without-scope.json')]);
    assert.equal(r.status, 1);
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /: FAIL$/);
    assert.match(lines[1]!, /^ {2}error {3}events\[0\] event-scope-missing: issue webhooks require the event:read permission — rule: .* \(https:\/\/github\.com\/getsentry\/sentry\/.*\)$/);
    assert.match(lines[2]!, /events\[1\] event-scope-missing: comment webhooks require the event:read permission/);
    assert.match(r.out, /^logo \.\.\/images\/logo-good\.png: ok$/m);
  });

  it('exit 2: no argument, two arguments, unknown flag, missing file, invalid JSON, not an object', async () => {
    assert.equal((await capture([])).status, 2);
    assert.equal((await capture(['a.json', 'b.json'])).status, 2);
    assert.equal((await capture(['--nope'])).status, 2);
    assert.equal((await capture([join(dir.path, 'missing.json')])).status, 2);
    await writeFile(join(dir.path, 'broken.json'), '{ "name": ');
    const broken = await capture([join(dir.path, 'broken.json')]);
    assert.equal(broken.status, 2);
    assert.match(broken.err, /not valid JSON/);
    await writeFile(join(dir.path, 'list.json'), '[]');
    assert.equal((await capture([join(dir.path, 'list.json')])).status, 2);
  });

  it('an app.json saved with a UTF-8 byte-order mark (Windows editors) is read like one without', async () => {
    const file = join(dir.path, 'bom.json');
    await writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(join(APPS, 'good.json'))]));
    const config = await loadAppConfig(file);
    assert.equal(config.name, 'Pushover Notifier');
    const r = await capture([file, '--json']);
    assert.equal(r.err, '');
    assert.equal(JSON.parse(r.out).config.findings.filter((f: { code: string }) => f.code !== 'image-unreadable').length, 0);
  });

  it('verifyInstall defaults to on (Sentry\'s default), so redirectUrl is needed unless it is false', async () => {
    const base = await loadAppConfig(join(APPS, 'good.json'));
    const { redirectUrl: _omit, ...noRedirect } = base;
    const withDefault = await checkAppConfig({ ...noRedirect, verifyInstall: undefined }, join(APPS, 'x.json'));
    assert.deepEqual(withDefault.findings.map((f) => f.code), ['redirect-required']);
    const off = await checkAppConfig({ ...noRedirect, verifyInstall: false }, join(APPS, 'x.json'));
    assert.deepEqual(off.findings, []);
  });

  it('a field of the wrong type is a field-type finding naming the field and the expected type', async () => {
    const base = await loadAppConfig(join(APPS, 'good.json'));
    const check = (patch: Record<string, unknown>) => checkAppConfig({ ...base, ...patch }, join(APPS, 'x.json')).then((r) => r.findings.map((f) => `${f.code} ${f.field}: ${f.message}`));
    assert.deepEqual(await check({ name: { a: 1 } }), ['field-type name: name must be a string, not an object']);
    assert.deepEqual(await check({ author: 42 }), ['field-type author: author must be a string, not a number (42)']);
    assert.deepEqual(await check({ overview: ['x'] }), ['field-type overview: overview must be a string, not an array']);
    assert.deepEqual(await check({ isAlertable: 'no' }), ['field-type isAlertable: isAlertable must be a boolean (true or false), not a string ("no")']);
    // A non-string image path is the type finding alone: not also logo-missing or a read of the file "5".
    assert.deepEqual(await check({ logo: 5 }), ['field-type logo: logo must be a string, not a number (5)']);
    // "true" is read as true by Sentry's BooleanField: still a type finding, and the redirect is still required.
    const { redirectUrl: _omit, ...noRedirect } = base;
    const findings = await checkAppConfig({ ...noRedirect, verifyInstall: 'true' }, join(APPS, 'x.json')).then((r) => r.findings);
    assert.deepEqual(findings.map((f) => `${f.code} ${f.field}`), ['field-type verifyInstall', 'redirect-required redirectUrl']);
    assert.match(findings[0]!.message, /verifyInstall must be a boolean \(true or false\), not a string \("true"\)/);
    assert.match(findings[0]!.rule, /verifyInstall, isAlertable: booleans/);
  });

  it('a snake_case spelling of a known key gets a "did you mean" hint', async () => {
    const base = await loadAppConfig(join(APPS, 'good.json'));
    const { webhookUrl, ...rest } = base;
    const r = await checkAppConfig({ ...rest, webhook_url: webhookUrl, allowed_origins: ['x.example.com'], custom_thing: 1 }, join(APPS, 'x.json'));
    assert.deepEqual(r.findings.map((f) => `${f.severity} ${f.code} ${f.field}`), [
      'warning key-snake-case webhook_url', 'warning key-snake-case allowed_origins', 'error webhook-missing webhookUrl',
    ]);
    assert.match(r.findings[0]!.message, /"webhook_url" is not read .*did you mean webhookUrl\?/);
    assert.match(r.findings[1]!.message, /did you mean allowedOrigins\?/);
  });

  it('name length counts characters as Sentry (Python len) does: code points, not UTF-16 units', async () => {
    const base = await loadAppConfig(join(APPS, 'good.json'));
    const at = (name: string) => checkAppConfig({ ...base, name }, join(APPS, 'x.json')).then((r) => r.findings.map((f) => f.code));
    assert.deepEqual(await at('🚀'.repeat(57)), []);
    assert.deepEqual(await at('🚀'.repeat(58)), ['name-too-long']);
    assert.deepEqual(await at('N'.repeat(58)), ['name-too-long']);
  });

  it('extra scopes and event scopes are configurable', async () => {
    const base = await loadAppConfig(join(APPS, 'good.json'));
    const cfg = { ...base, scopes: ['event:read', 'project:distribution'], events: ['issue', 'newthing'] };
    const strict = await checkAppConfig(cfg, join(APPS, 'x.json'));
    assert.deepEqual(strict.findings.map((f) => f.code), ['scope-unknown', 'event-unknown']);
    const relaxed = await checkAppConfig(cfg, join(APPS, 'x.json'), { extraScopes: ['project:distribution'], eventScopes: { newthing: 'event:read' } });
    assert.deepEqual(relaxed.findings, []);
  });

  it('URL rules: IPv4/IPv6 private, loopback, link-local, mapped, odd spellings, credentials', () => {
    const codes = (u: string) => checkPublicHttpsUrl(u).map((p) => `${p.severity}:${p.code}`);
    assert.deepEqual(codes('https://hooks.example.com/x'), []);
    assert.deepEqual(codes('https://8.8.8.8/x'), []);
    assert.deepEqual(codes('https://[2606:4700::1111]/x'), []);
    for (const u of ['https://127.0.0.1/', 'https://0x7f.1/', 'https://172.20.1.1/', 'https://169.254.169.254/latest', 'https://100.64.0.1/', 'https://[::1]/', 'https://[fd00::1]/', 'https://[::ffff:10.0.0.1]/', 'https://app.localhost/']) {
      assert.deepEqual(codes(u), ['error:url-not-public'], u);
    }
    for (const u of ['https://localhost./x', 'https://app.localhost./x']) assert.deepEqual(codes(u), ['error:url-not-public'], u);
    assert.deepEqual(codes('https://hooks.example.com./x'), []);
    assert.deepEqual(codes('https://intranet/x'), ['warning:url-not-public']);
    assert.deepEqual(codes('https://u:p@hooks.example.com/'), ['error:url-credentials']);
    assert.deepEqual(codes('not a url'), ['error:url-invalid']);
    assert.equal(privateIpv6Reason('fe80::1'), 'link-local (fe80::/10)');
  });

  it('URL rules: IPv4 documentation ranges fail like 2001:db8::; private IPv4 inside NAT64/6to4/translated IPv6 warns', () => {
    const codes = (u: string) => checkPublicHttpsUrl(u).map((p) => `${p.severity}:${p.code}`);
    for (const u of ['https://192.0.2.1/', 'https://198.51.100.7/', 'https://203.0.113.9/', 'https://[::ffff:192.0.2.1]/', 'https://[2001:db8::1]/']) {
      assert.deepEqual(codes(u), ['error:url-not-public'], u);
    }
    for (const u of ['https://[64:ff9b::10.0.0.1]/', 'https://[64:ff9b::127.0.0.1]/', 'https://[2002:a00:1::1]/', 'https://[2002:c0a8:101::]/', 'https://[::ffff:0:10.1.2.3]/']) {
      assert.deepEqual(codes(u), ['warning:url-not-public'], u);
    }
    assert.match(checkPublicHttpsUrl('https://[64:ff9b::10.0.0.1]/')[0]!.message, /NAT64 \(64:ff9b::\/96\) for 10\.0\.0\.1, private \(10\.0\.0\.0\/8\).*unconfirmed/);
    assert.match(checkPublicHttpsUrl('https://[2002:c0a8:101::]/')[0]!.message, /6to4 \(2002::\/16\) for 192\.168\.1\.1/);
    // Public IPv4 behind the same prefixes, and neighbours of the documentation ranges, are fine.
    for (const u of ['https://[64:ff9b::8.8.8.8]/', 'https://[2002:808:808::1]/', 'https://192.0.3.1/', 'https://198.51.101.1/', 'https://203.0.114.1/']) assert.deepEqual(codes(u), [], u);
  });

  it('schema: well-formed elements pass; each malformed part is named by path', () => {
    const good = JSON.parse(readFileSync(join(APPS, 'good.json'), 'utf8')).schema;
    assert.deepEqual(validateUiSchema(good), []);
    assert.deepEqual(validateUiSchema({}), []);
    const problems = validateUiSchema({
      elements: [
        { type: 'alert-rule-action', title: 'Page', settings: { type: 'alert-rule-settings', uri: '/alert', description: '', required_fields: [{ type: 'select', name: 's', label: 'S', uri: '/a', options: [['a', 1]] }] } },
        { type: 'issue-media', title: 'Media', elements: [{ type: 'image' }, { type: 'markdown', text: 'hi' }] },
        { type: 'issue-media', title: 'Again', elements: [{ type: 'header', text: 'h' }] },
        { type: 'issue-link', link: { uri: '/l', required_fields: [{ type: 'text', name: 't', label: 'T', default: 'issue.culprit' }] }, create: { uri: '/c', required_fields: [] } },
      ],
    });
    assert.deepEqual(problems.map((p) => p.path), [
      'schema.elements[0].settings.description',
      'schema.elements[0].settings.required_fields[0]',
      'schema.elements[1].elements[0].url',
      'schema.elements[2].type',
      'schema.elements[3].link.required_fields[0].default',
      'schema.elements[3].create.required_fields',
    ]);
  });

  it('runs as a subcommand of the kit CLI', { timeout: 60_000 }, () => {
    const [cmd, ...args] = tsRunner(join(ROOT, 'src/cli.ts'));
    const r = spawnSync(cmd!, [...args, 'preflight', join(APPS, 'bad-origin-wildcard.json'), '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).config.findings[0].code, 'origin-wildcard');
  });
});
