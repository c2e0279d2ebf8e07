import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verify } from '../src/sentry/signature.ts';
import { buildWebhookFixtures, FIXTURE_DIR, manifestText, type FixtureEntry } from './gen-webhook-fixtures.ts';

describe('fixtures/webhooks', () => {
  it('every fixture verifies against its signature; re-serialised bodies must not', async () => {
    const manifest = JSON.parse(await readFile(join(FIXTURE_DIR, 'index.json'), 'utf8')) as FixtureEntry[];
    assert.ok(manifest.length >= 18);
    for (const entry of manifest) {
      const raw = await readFile(join(FIXTURE_DIR, entry.file));
      assert.equal(raw.length, entry.bytes, entry.file);
      assert.ok(verify(entry.secret, raw, entry.signature), `${entry.file} signature`);
      const header = entry.headers['Sentry-Hook-Signature'] ?? entry.headers['Sentry-App-Signature'];
      assert.equal(header, entry.signature, entry.file);
      if (entry.resource !== null && entry.file !== 'numbers.json') assert.equal(entry.file, `${entry.resource}.${entry.action}.json`);
      if (raw.length > 0) {
        assert.ok(/^[\x20-\x7e]*$/.test(raw.toString('latin1')), `${entry.file} is ASCII only`);
        assert.notEqual(raw[raw.length - 1], 0x0a, `${entry.file} has no trailing newline`);
        assert.deepEqual(Object.keys(JSON.parse(raw.toString('utf8'))), ['action', 'installation', 'data', 'actor']);
      }
      if (entry.reserializedSignature) {
        const reserialized = JSON.stringify(JSON.parse(raw.toString('utf8')));
        assert.ok(!verify(entry.secret, reserialized, entry.signature), `${entry.file}: re-serialised body must not verify`);
        assert.ok(!verify(entry.secret, raw, entry.reserializedSignature), `${entry.file}: re-serialised signature must not verify`);
      }
    }
  });

  it('holds the reference vectors verbatim', async () => {
    const manifest = JSON.parse(await readFile(join(FIXTURE_DIR, 'index.json'), 'utf8')) as FixtureEntry[];
    const byFile = new Map(manifest.map((e) => [e.file, e]));
    assert.equal(byFile.get('installation.created.json')?.signature, '9b68b7bc3a04d0823d787e0cf8a906f33d5efb464f2a171778e1cdd64b31cc20');
    assert.equal(byFile.get('installation.created.json')?.bytes, 393);
    assert.equal(byFile.get('comment.created.json')?.signature, '98ce392efce99d2e2a214924e1e6eb9f7014795394612c96cb1590a071de78b5');
    assert.equal(byFile.get('comment.created.json')?.bytes, 274);
    assert.equal(byFile.get('comment.created.json')?.reserializedSignature, 'dc3c5b50aa824266b3e7717d65fd12c4a180fedebb67658f5bd52b61030e9a0a');
    assert.equal(byFile.get('empty-body.json')?.bytes, 0);
    assert.ok(byFile.get('numbers.json')?.reserializedSignature);
  });

  it('is up to date with the generator', async () => {
    const { files, manifest } = buildWebhookFixtures();
    for (const [name, content] of files) assert.equal(await readFile(join(FIXTURE_DIR, name), 'utf8'), content, `${name} is stale: run node --import tsx scripts/gen-webhook-fixtures.ts`);
    assert.equal(await readFile(join(FIXTURE_DIR, 'index.json'), 'utf8'), manifestText(manifest));
    const onDisk = (await readdir(FIXTURE_DIR)).filter((f) => f !== 'index.json').sort();
    assert.deepEqual(onDisk, [...files.keys()].sort());
  });
});
