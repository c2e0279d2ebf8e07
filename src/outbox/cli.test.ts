import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { type CliIo, deadLettersCommand } from './cli.ts';
import { openOutbox } from './outbox.ts';

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
    assert.match((await cli(['--data-dir', dataDir, 'replay', '--all'])).out, /replayed 1 dead letter;/);
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
    assert.match((await cli(['--data-dir', tmp.path])).out, /no dead letters/);
    const replay = await cli(['--data-dir', tmp.path, 'replay', '--all']);
    assert.equal(replay.code, 1);
    assert.match(replay.err, /no outbox in/);
  });

  it('refuses to replay while another process holds the outbox, naming its pid (real CLI child)', T, async () => {
    const { dataDir } = await dataDirWithDeadLetters();
    const held = await openOutbox({ dir: join(dataDir, 'outbox') });
    cleanups.push(() => held.close());
    const [cmd, ...args] = tsRunner(fileURLToPath(new URL('../cli.ts', import.meta.url)));
    const child = spawn(cmd!, [...args, 'dead-letters', '--data-dir', dataDir, 'replay', '--all'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`in use by process ${process.pid} .*stop the server, replay`));
    // Listing still works while it is held.
    assert.equal(JSON.parse((await cli(['--data-dir', dataDir, '--json'])).out).length, 2);
    assert.equal(held.stats().dead, 2);
  });
});
