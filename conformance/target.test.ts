/**
 * Reaching the implementation under test: a target that listens on the wrong port, never answers,
 * crashes or cuts connections is diagnosed case by case, not reported as a harness error or a hang.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openSession, runCase, type ConformanceCase, type Session } from './harness.ts';
import { freePort, waitForHttp } from './target.ts';
import { tempDir, tsRunner } from '../src/testing/runtime.ts';

describe('waitForHttp says what it saw', { timeout: 20_000 }, () => {
  let silent: Server | undefined;
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent ? silent.close(resolve) : resolve(undefined));
  });

  it('nothing listening: connection refused, with the hint', async () => {
    const port = await freePort();
    await assert.rejects(waitForHttp(`http://127.0.0.1:${port}`, 100, `listen on 127.0.0.1:$PORT (PORT=${port})`),
      new RegExp(`connection refused\\): the implementation must listen on 127\\.0\\.0\\.1:\\$PORT \\(PORT=${port}\\)`));
  });
  it('a connection accepted but never answered', async () => {
    silent = createServer((socket) => { sockets.push(socket); /* accept and say nothing */ });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    await assert.rejects(waitForHttp(`http://127.0.0.1:${port}`, 100), /connection was accepted but no HTTP answer came/);
  });
});

// An implementation that answers GET, crashes (exit 3) on POST /crash and cuts the connection on POST /cut.
const FLAKY = `
import { createServer } from 'node:http';
createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/crash') { console.log('fatal: crashing on purpose'); process.exit(3); }
  if (req.method === 'POST' && req.url?.startsWith('/cut')) { req.socket.destroy(); return; }
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function probe(id: string, run: ConformanceCase['run']): ConformanceCase {
  return { id, area: 'robustness', level: 'MUST', title: id, clause: { section: '§', url: 'https://x' }, requirement: 'r', run };
}

describe('an implementation that crashes or cuts connections', { timeout: 60_000 }, () => {
  let session: Session | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  before(async () => {
    dir = await tempDir('sik-flaky-');
    const file = join(dir.path, 'flaky.mjs');
    await writeFile(file, FLAKY);
    session = await openSession({ exec: `exec ${tsRunner(file).map((a) => `'${a}'`).join(' ')}` });
  });
  after(async () => { await session?.close(); await dir?.remove(); });

  it('a crash fails the case it happened in, with the exit and the output, and is restarted for the next', async () => {
    const crash = await runCase(session!, probe('CRA-001', async (ctx) => {
      await ctx.http.send('POST', '/crash').catch(() => undefined);
      await ctx.waitFor('something that never happens', () => false);
    }));
    assert.equal(crash.verdict, 'fail');
    assert.match(crash.message ?? '', /stopped during this case: process exited \(code 3\)/);
    assert.match(crash.actual ?? '', /fatal: crashing on purpose/);
    assert.ok(crash.durationMs < 5000, `gave up at once, not after the wait (${crash.durationMs} ms)`);
    const next = await runCase(session!, probe('CRA-002', async (ctx) => { await ctx.http.send('GET', '/'); }));
    assert.equal(next.verdict, 'pass', next.message);
  });
  it('a cut connection is the implementation\'s failure, without a stack trace', async () => {
    const cut = await runCase(session!, probe('CUT-001', async (ctx) => { await ctx.http.send('POST', '/cut?secret=x'); }));
    assert.equal(cut.verdict, 'fail');
    assert.match(cut.message ?? '', /^no answer from the implementation: POST \/cut: the connection was closed without an HTTP answer/);
    assert.doesNotMatch(cut.message ?? '', /harness or case error|\n\s+at /);
  });
});
