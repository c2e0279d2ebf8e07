import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { ConfigError } from '../config.ts';
import { type CliIo, commandEnv, deadLettersCommand } from './cli.ts';
import { openOutbox } from './outbox.ts';
import { REQUESTS_DIR, watchReplayRequests } from './requests.ts';

const T = { timeout: 60_000 };
const SECRET = 'payload-must-not-be-printed';

describe('dead-letters command', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

  /** A data dir whose outbox holds dead letters for keys a and b. */
  async function dataDirWithDeadLetters(): Promise<{ dataDir: string; ids: string[] }> {
    const tmp = await tempDir('sik-deadletters-');
    cleanups.push(tmp.remove);
    const outbox = await openOutbox({ dir: join(tmp.path, 'outbox') });
    outbox.run(() => ({ outcome: 'dead', reason: 'HTTP 400: user identifier is invalid' }));
    const ids = [];
    for (const key of ['a', 'b']) ids.push((await outbox.enqueue({ key, group: 'inst-1', payload: { SECRET } })).id);
    await outbox.idle();
    await outbox.close();
    return { dataDir: tmp.path, ids };
  }

  async function cli(args: string[], env: CliIo['env'] = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await deadLettersCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('lists dead letters as text and JSON, without payloads, from --data-dir or DATA_DIR', T, async () => {
    const { dataDir, ids } = await dataDirWithDeadLetters();
    const text = await cli(['--data-dir', dataDir]);
    assert.equal(text.code, 0);
    assert.match(text.out, /^2 dead letters in /);
    for (const id of ids) assert.ok(text.out.includes(id));
    assert.match(text.out, /attempts=1 {2}group=inst-1 {2}key=a\n {4}HTTP 400: user identifier is invalid/);
    const json = await cli(['list', '--json'], { DATA_DIR: dataDir });
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.out) as Array<Record<string, unknown>>;
    assert.deepEqual(parsed.map((d) => [d.id, d.key, d.attempts, 'payload' in d]), [[ids[0], 'a', 1, false], [ids[1], 'b', 1, false]]);
    assert.ok(!text.out.includes(SECRET) && !json.out.includes(SECRET));
  });

  it('reads OUTBOX_DIR as the server does, unless --data-dir is given', T, async () => {
    const { dataDir, ids } = await dataDirWithDeadLetters();
    const viaEnv = await cli(['list', '--json'], { OUTBOX_DIR: join(dataDir, 'outbox'), DATA_DIR: '/nonexistent' });
    assert.equal(viaEnv.code, 0);
    assert.equal((JSON.parse(viaEnv.out) as unknown[]).length, ids.length);
    const overridden = await cli(['list', '--json', '--data-dir', dataDir], { OUTBOX_DIR: '/nonexistent' });
    assert.equal((JSON.parse(overridden.out) as unknown[]).length, ids.length);
  });

  it('replays one, then all; then there is nothing left', T, async () => {
    const { dataDir, ids } = await dataDirWithDeadLetters();
    assert.deepEqual(await cli(['--data-dir', dataDir, 'replay', ids[0]!, '--json']), { code: 0, out: '{"replayed":1}', err: '' });
    assert.equal(JSON.parse((await cli(['--data-dir', dataDir, '--json'])).out).length, 1);
    const again = await cli(['--data-dir', dataDir, 'replay', ids[0]!]);
    assert.equal(again.code, 1);
    assert.match(again.err, /no dead letter with id/);
    assert.match((await cli(['--data-dir', dataDir, 'replay', '--all'])).out, /^replayed 1 dead letter; it runs when the server next starts$/);
    assert.match((await cli(['--data-dir', dataDir])).out, /^no dead letters in /);
    const outbox = await openOutbox({ dir: join(dataDir, 'outbox') });
    assert.deepEqual([outbox.stats().pending, outbox.stats().dead], [2, 0]);
    await outbox.close();
  });

  it('rejects bad usage with status 2, and handles a missing outbox', T, async () => {
    for (const args of [['replay'], ['replay', 'a', 'b'], ['replay', 'x', '--all'], ['--bogus'], ['frob'], ['--data-dir'], ['list', 'x']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /usage: dead-letters/);
    }
    assert.equal((await cli(['--help'])).code, 0);
    const tmp = await tempDir('sik-deadletters-');
    cleanups.push(tmp.remove);
    // A data dir without an outbox (a mistyped path, or a server that never ran there) is an error, not "none".
    for (const args of [['--data-dir', tmp.path], ['--data-dir', tmp.path, '--json'], ['--data-dir', tmp.path, 'replay', '--all']]) {
      const r = await cli(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.out, '');
      assert.match(r.err, /^dead-letters: no outbox in .*\(check --data-dir, DATA_DIR or OUTBOX_DIR/);
    }
  });

  it('finds the outbox through ./.env as serve does (the environment wins); a malformed .env is a ConfigError', T, async () => {
    const { dataDir } = await dataDirWithDeadLetters();
    const tmp = await tempDir('sik-deadletters-env-');
    cleanups.push(tmp.remove);
    const envFile = join(tmp.path, '.env');
    writeFileSync(envFile, `# written by the test\nDATA_DIR=${dataDir}\n`);
    const fromFile = await cli(['--json'], commandEnv({}, envFile));
    assert.equal(fromFile.code, 0, fromFile.err);
    assert.equal(JSON.parse(fromFile.out).length, 2);
    const envWins = await cli(['--json'], commandEnv({ DATA_DIR: tmp.path }, envFile));
    assert.equal(envWins.code, 1);
    assert.match(envWins.err, /no outbox in/);
    assert.deepEqual(commandEnv({ X: '1' }, join(tmp.path, 'missing.env')), { X: '1' });
    writeFileSync(envFile, 'DATA_DIR\n');
    assert.throws(() => commandEnv({}, envFile), ConfigError);
  });

  /** Runs the real CLI in a child process (same runtime as the test). */
  async function cliChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const [cmd, ...runArgs] = tsRunner(fileURLToPath(new URL('../cli.ts', import.meta.url)));
    const child = spawn(cmd!, [...runArgs, 'dead-letters', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    return { code, stdout, stderr };
  }

  it('replays through the running server while it holds the outbox (real CLI child); the server answers errors too', T, async () => {
    const { dataDir, ids } = await dataDirWithDeadLetters();
    const dir = join(dataDir, 'outbox');
    const held = await openOutbox({ dir });
    const events: unknown[] = [];
    const watcher = watchReplayRequests(held, dir, { intervalMs: 20, onRequest: (e) => events.push(e) });
    cleanups.push(async () => { await watcher.stop(); await held.close(); });
    const one = await cliChild(['--data-dir', dataDir, 'replay', ids[0]!, '--json']);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout), { replayed: 1, by: 'server' });
    assert.equal(held.stats().dead, 1);
    const unknown = await cliChild(['--data-dir', dataDir, 'replay', 'no-such-id']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /the server refused: no dead letter with id no-such-id/);
    const rest = await cliChild(['--data-dir', dataDir, 'replay', '--all']);
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, /the running server replayed 1 dead letter; it runs now/);
    assert.equal(held.stats().dead, 0);
    assert.deepEqual(events.map((e) => (e as { target: string }).target), [ids[0], 'no-such-id', 'all']);
    // Nothing is left behind in the requests directory.
    assert.deepEqual(readdirSync(join(dir, REQUESTS_DIR)), []);
    assert.ok(!(one.stdout + one.stderr + rest.stdout).includes(SECRET));
  });

  it('with a server that does not answer (no watcher), gives up after --wait, withdraws the request, replays nothing', T, async () => {
    const { dataDir } = await dataDirWithDeadLetters();
    const dir = join(dataDir, 'outbox');
    const held = await openOutbox({ dir });
    cleanups.push(() => held.close());
    const r = await cliChild(['--data-dir', dataDir, 'replay', '--all', '--wait', '0.3']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /did not pick up the replay request within 300 ms .*nothing was replayed/);
    assert.deepEqual(readdirSync(join(dir, REQUESTS_DIR)), [], 'the request was withdrawn');
    // A watcher started later finds nothing to do; listing works while the outbox is held.
    const late = watchReplayRequests(held, dir, { intervalMs: 60_000 });
    assert.equal(await late.check(), 0);
    await late.stop();
    assert.equal(JSON.parse((await cli(['--data-dir', dataDir, '--json'])).out).length, 2);
    assert.equal(held.stats().dead, 2);
  });

  it('a malformed request file gets an error answer; a bad --wait is a usage error', T, async () => {
    const { dataDir } = await dataDirWithDeadLetters();
    const dir = join(dataDir, 'outbox');
    const held = await openOutbox({ dir });
    const watcher = watchReplayRequests(held, dir, { intervalMs: 60_000 });
    cleanups.push(async () => { await watcher.stop(); await held.close(); });
    writeFileSync(join(dir, REQUESTS_DIR, 'x.request.json'), '{"replay": "../../etc"}');
    assert.equal(await watcher.check(), 1);
    assert.match(readFileSync(join(dir, REQUESTS_DIR, 'x.answer.json'), 'utf8'), /"error":"a request must be/);
    assert.equal(held.stats().dead, 2);
    const bad = await cli(['--data-dir', dataDir, 'replay', '--all', '--wait', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--wait needs a number of seconds/);
  });
});
