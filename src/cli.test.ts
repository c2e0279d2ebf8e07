import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tsRunner } from './testing/runtime.ts';

describe('kit CLI', () => {
  it('a reader that closes the pipe early (`… | head -1`) ends the command quietly with status 0', { timeout: 30_000 }, async () => {
    const [cmd, ...args] = tsRunner(fileURLToPath(new URL('./cli.ts', import.meta.url)));
    const child = spawn(cmd as string, [...args, 'conformance', '--list'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Like head -1: take the first chunk, then close our end while the command still writes.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString())));
    child.stdout.destroy();
    assert.match(first, /^INR-001 /);
    assert.equal(await exited, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  });
});
