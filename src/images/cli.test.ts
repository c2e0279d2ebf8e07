import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { oversizedPng } from '../../scripts/gen-image-fixtures.ts';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { checkImage } from './check.ts';
import { captureRun } from './capture-cli.ts';
import { run } from './cli.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const FIX = join(ROOT, 'fixtures/images');

const capture = (args: string[]) => captureRun(run, args);

describe('check-images CLI', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => { dir = await tempDir(); });
  after(async () => { await dir.remove(); });
  afterEach(() => mock.restoreAll());

  it('exit 0 with an exact --json shape for passing files', async () => {
    const r = await capture(['--logo', join(FIX, 'logo-good.png'), '--icon', join(FIX, 'icon-good.png'), '--json']);
    assert.equal(r.status, 0);
    assert.deepEqual(JSON.parse(r.out), {
      files: [
        { path: join(FIX, 'logo-good.png'), kind: 'logo', ok: true, errors: [], warnings: [] },
        { path: join(FIX, 'icon-good.png'), kind: 'icon', ok: true, errors: [], warnings: [] },
      ],
    });
  });

  it('exit 0 with warnings only; exit 1 when a file fails; one finding per line', async () => {
    const warn = await capture(['--logo', join(FIX, 'logo-rounded-tile.png')]);
    assert.equal(warn.status, 0);
    assert.match(warn.out, /ok \(with warnings\)\n {2}warning logo-background-uncertain: /);
    const fail = await capture(['--icon', join(FIX, 'icon-transparent-white.png')]);
    assert.equal(fail.status, 1);
    const lines = fail.out.split('\n');
    assert.match(lines[0]!, /^icon .*icon-transparent-white\.png: FAIL$/);
    assert.match(lines[1]!, /^ {2}error {3}icon-transparent-not-black: /);
    const json = JSON.parse((await capture(['--icon', join(FIX, 'icon-transparent-white.png'), '--json'])).out);
    assert.deepEqual(Object.keys(json.files[0]), ['path', 'kind', 'ok', 'errors', 'warnings']);
    assert.deepEqual(Object.keys(json.files[0].errors[0]), ['code', 'message']);
  });

  it('exit 1 for a file over 5,000,000 bytes (generated at test time)', async () => {
    const big = join(dir.path, 'big.png');
    await writeFile(big, oversizedPng());
    const r = await capture(['--icon', big, '--json']);
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.out).files[0].errors[0].code, 'file-too-large');
  });

  it('exit 2 for usage errors and unreadable files', async () => {
    assert.equal((await capture([])).status, 2);
    assert.equal((await capture(['--logo'])).status, 2);
    assert.equal((await capture(['--bogus'])).status, 2);
    assert.equal((await capture(['stray.png'])).status, 2);
    const missing = await capture(['--icon', join(dir.path, 'missing.png')]);
    assert.equal(missing.status, 2);
    assert.match(missing.err, /cannot read .*missing\.png: ENOENT/);
    assert.equal((await capture(['--icon', dir.path])).status, 2);
    assert.equal((await capture(['--help'])).status, 0);
    const twice = await capture(['--logo', join(FIX, 'gif-named.png'), '--logo', join(FIX, 'logo-good.png')]);
    assert.equal(twice.status, 2, 'a repeated --logo is not silently reduced to the last one');
    assert.equal(twice.out, '');
    assert.match(twice.err, /--logo given 2 times .*gif-named\.png.*logo-good\.png/);
    assert.match((await capture(['--icon', 'a.png', '--icon', 'b.png'])).err, /--icon given 2 times/);
  });

  it('--fix writes NAME.fixed.png that passes, lists it, and keeps the status of the input', async () => {
    const icon = join(dir.path, 'cropped.png');
    const logo = join(dir.path, 'wide.png');
    await copyFile(join(FIX, 'icon-cropper-near-black.png'), icon);
    await copyFile(join(FIX, 'logo-not-square.png'), logo);
    const r = await capture(['--logo', logo, '--icon', icon, '--fix', '--json']);
    assert.equal(r.status, 1);
    const files = JSON.parse(r.out).files as Array<{ path: string; ok: boolean }>;
    assert.deepEqual(files.map((f) => [f.path, f.ok]), [[logo, false], [join(dir.path, 'wide.fixed.png'), true], [icon, false], [join(dir.path, 'cropped.fixed.png'), true]]);
    assert.equal(checkImage(await readFile(join(dir.path, 'cropped.fixed.png')), 'icon').ok, true);
    assert.equal(checkImage(await readFile(join(dir.path, 'wide.fixed.png')), 'logo').ok, true);
    const human = await capture(['--icon', icon, '--fix']);
    assert.match(human.out, /fix {5}wrote .*cropped\.fixed\.png \(passes\): rewrote as RGBA/);
  });

  it('--fix never loses a fix: the same file as logo and icon gets one output per role; a given file is never overwritten', async () => {
    const both = join(dir.path, 'both.png');
    await copyFile(join(FIX, 'logo-not-square.png'), both);
    const r = await capture(['--logo', both, '--icon', both, '--fix']);
    assert.equal(r.status, 1);
    const logoOut = join(dir.path, 'both.logo.fixed.png');
    const iconOut = join(dir.path, 'both.icon.fixed.png');
    assert.match(r.out, /wrote .*both\.logo\.fixed\.png \(passes\)/);
    assert.match(r.out, /wrote .*both\.icon\.fixed\.png \(passes\)/);
    assert.equal(checkImage(await readFile(logoOut), 'logo').ok, true);
    assert.equal(checkImage(await readFile(iconOut), 'icon').ok, true);
    // `x` and `x.png` would both be fixed to x.fixed.png.
    const bare = join(dir.path, 'pair');
    await copyFile(join(FIX, 'logo-not-square.png'), bare);
    await copyFile(join(FIX, 'icon-cropper-near-black.png'), `${bare}.png`);
    const pair = await capture(['--logo', bare, '--icon', `${bare}.png`, '--fix', '--json']);
    assert.deepEqual((JSON.parse(pair.out).files as Array<{ path: string }>).map((f) => f.path), [bare, `${bare}.logo.fixed.png`, `${bare}.png`, `${bare}.icon.fixed.png`]);
    // The logo's fix would overwrite the icon the user gave.
    const victim = join(dir.path, 'both.fixed.png');
    await copyFile(join(FIX, 'icon-good.png'), victim);
    const before = await readFile(victim);
    const clash = await capture(['--logo', both, '--icon', victim, '--fix']);
    assert.equal(clash.status, 2);
    assert.match(clash.err, /--fix would write .*both\.fixed\.png over the icon you gave/);
    assert.deepEqual(await readFile(victim), before);
  });

  it('--fix --json lists what each fix changed, or why a file could not be fixed, under "fixes"', async () => {
    const logo = join(dir.path, 'fixme.png');
    await copyFile(join(FIX, 'logo-not-square.png'), logo);
    const empty = join(dir.path, 'empty-icon.png');
    await writeFile(empty, new Uint8Array(0));
    const r = await capture(['--logo', logo, '--icon', empty, '--fix', '--json']);
    assert.equal(r.status, 1);
    const json = JSON.parse(r.out);
    assert.deepEqual(Object.keys(json), ['files', 'fixes']);
    const [fixed, refused] = json.fixes;
    assert.deepEqual({ ...fixed, changes: undefined }, { path: logo, kind: 'logo', fixed: true, output: join(dir.path, 'fixme.fixed.png'), changes: undefined, reason: null });
    assert.ok(fixed.changes.length > 0 && fixed.changes.every((c: unknown) => typeof c === 'string'));
    assert.match(fixed.changes[0], /padded/);
    assert.deepEqual({ ...refused, reason: undefined }, { path: empty, kind: 'icon', fixed: false, output: null, changes: [], reason: undefined });
    assert.match(refused.reason, /^cannot fix: /);
    // Without --fix the document keeps exactly its one key.
    assert.deepEqual(Object.keys(JSON.parse((await capture(['--logo', logo, '--json'])).out)), ['files']);
  });

  it('runs as a subcommand of the kit CLI with the same exit codes', { timeout: 60_000 }, () => {
    const [cmd, ...args] = tsRunner(join(ROOT, 'src/cli.ts'));
    const ok = spawnSync(cmd!, [...args, 'check-images', '--icon', join(FIX, 'icon-good.png'), '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).files[0].ok, true);
    const bad = spawnSync(cmd!, [...args, 'check-images', '--logo', join(FIX, 'gif-named.png')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /not-png: the file is a GIF image, not a PNG/);
  });
});
