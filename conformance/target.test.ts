/**
 * Reaching the implementation under test: a target that listens on the wrong port, never answers,
 * crashes or cuts connections is diagnosed case by case, not reported as a harness error or a hang.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openSession, runCase, type ConformanceCase, type Session } from './harness.ts';
import { execTarget, freePort, waitForHttp, type ContractEnv } from './target.ts';
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
  if (req.method === 'POST' && req.url === '/crash') { console.log('fatal: crashing on purpose with', process.env.SENTRY_CLIENT_SECRET); process.exit(3); }
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
    // The output is shown with the secrets it printed redacted.
    assert.match(crash.actual ?? '', /with \[client secret …[0-9a-f]{4}\]/);
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

describe('the implementation\'s output is masked', { timeout: 30_000 }, () => {
  it('a failed start quotes its last output with the secrets it was given masked; --verbose\'s echo is masked too', async () => {
    const secret = 'f00dfeed'.repeat(8);
    const echoed: string[] = [];
    const error = await openSession({
      exec: 'echo "secret=$SENTRY_CLIENT_SECRET token=$PUSHOVER_TOKEN"; exit 3', clientSecret: secret,
      onOutput: (chunk) => echoed.push(chunk),
    }).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(error, 'the start failed');
    assert.match(error.message, /process exited \(code 3\)/);
    assert.match(error.message, /secret=\[client secret …feed\] token=\[Pushover token …\w{4}\]/);
    assert.ok(!error.message.includes(secret));
    assert.match(echoed.join(''), /secret=\[client secret …feed\]/);
    assert.ok(!echoed.join('').includes(secret));
  });
});

// Ignores SIGTERM; started under a shell that does not exec it (as `npm start` or `cd x && node s.js` would).
const STUBBORN = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
process.on('SIGTERM', () => {});
writeFileSync(process.env.STUBBORN_PID_FILE, String(process.pid));
createServer((req, res) => res.end('up')).listen(Number(process.env.PORT), '127.0.0.1');
`;

describe('stopping an implementation whose shell does not exec it', { timeout: 30_000 }, () => {
  it('the shell dies on SIGTERM, the server under it ignores it: the group is SIGKILLed after killAfterMs', async () => {
    const dir = await tempDir('sik-stubborn-');
    const pidFile = join(dir.path, 'pid');
    try {
      const file = join(dir.path, 'stubborn.mjs');
      await writeFile(file, STUBBORN);
      const port = await freePort();
      const env = { PORT: String(port), STUBBORN_PID_FILE: pidFile } as unknown as ContractEnv;
      const target = execTarget({ command: `${tsRunner(file).map((a) => `'${a}'`).join(' ')}; true`, env, killAfterMs: 300 });
      await target.start();
      await target.stop();
      // Gone, not merely orphaned: its port is closed (even a zombie holds no socket any more).
      await assert.rejects(waitForHttp(`http://127.0.0.1:${port}`, 100), /connection refused/);
    } finally {
      // Should this fail, the server must not outlive the test (it would hold the runner's pipes open).
      const pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
      if (pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone, as it should be */ }
      await dir.remove();
    }
  });
});

// Writes its pid and DATA_DIR. With STUCK_LISTEN=1 it then answers the readiness probe and nothing
// else (a case stays busy; `<pid file>.busy` says one is); without, it never listens (the harness
// stays in its start-up wait).
const STUCK = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const note = () => writeFileSync(process.env.STUCK_PID_FILE, JSON.stringify({ pid: process.pid, dataDir: process.env.DATA_DIR }));
if (process.env.STUCK_LISTEN === '1') {
  createServer((req, res) => {
    if (req.url === '/') res.end('up');
    else writeFileSync(process.env.STUCK_PID_FILE + '.busy', req.url); // a case is waiting on it now
  }).listen(Number(process.env.PORT), '127.0.0.1', note);
} else {
  note();
  setInterval(() => {}, 60_000);
}
`;

describe('an interrupted run', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let implPid = 0;
  afterEach(async () => {
    if (implPid) { try { process.kill(implPid, 'SIGKILL'); } catch { /* gone, as it should be */ } }
    implPid = 0;
    await dir?.remove();
  });

  /** Runs the harness on STUCK, sends SIGINT once the implementation has started, and checks what is left. */
  async function interrupt(listen: boolean, extraArgs: string[] = []): Promise<string> {
    dir = await tempDir('sik-stuck-');
    const script = join(dir.path, 'stuck.mjs');
    const pidFile = join(dir.path, 'pid');
    await writeFile(script, STUCK);
    const root = fileURLToPath(new URL('..', import.meta.url));
    const [cmd, ...args] = tsRunner(join(root, 'src/cli.ts'));
    const harness = spawn(cmd as string, [...args, 'conformance', '--exec', `exec ${tsRunner(script).map((a) => `'${a}'`).join(' ')}`, '--only', 'INR-001', ...extraArgs], {
      cwd: root, env: { ...process.env, STUCK_PID_FILE: pidFile, STUCK_LISTEN: listen ? '1' : '0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    harness.stdout.on('data', (c: Buffer) => { printed += c.toString(); });
    harness.stderr.on('data', (c: Buffer) => { printed += c.toString(); });
    const exited = new Promise<number | null>((resolve) => harness.once('exit', (code) => resolve(code)));
    const until = async (what: string, probe: () => Promise<boolean> | boolean) => {
      const deadline = Date.now() + 30_000;
      while (!(await probe())) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}; harness printed:\n${printed}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    let dataDir = '';
    await until('the implementation to start', async () => {
      const written = await readFile(pidFile, 'utf8').catch(() => '');
      if (written) ({ pid: implPid, dataDir } = JSON.parse(written) as { pid: number; dataDir: string });
      return implPid > 0;
    });
    await until('the run to begin', () => printed.includes('conformance: grading'));
    if (listen) await until('a case to wait on the implementation', () => existsSync(`${pidFile}.busy`));
    // process.kill, not harness.kill: Deno's ChildProcess reports a child it signalled as killed, whatever its exit code.
    process.kill(harness.pid as number, 'SIGINT');
    assert.equal(await exited, 130, printed);
    assert.match(printed, /interrupted \(SIGINT\); stopping the implementation/);
    // Gone, not only signalled: the harness waited for its exit (and so reaped it) before exiting.
    // A zombie would still answer signal 0; an orphan still running would too.
    const alive = () => { try { process.kill(implPid, 0); return true; } catch { return false; } };
    assert.equal(alive(), false, 'the implementation outlived the harness');
    implPid = 0;
    assert.match(dataDir, /sik-conformance-/);
    assert.equal(existsSync(dataDir), false, `DATA_DIR ${dataDir} was left behind`);
    return printed;
  }

  it('Ctrl-C (SIGINT) stops the implementation too, and exits 130', async () => {
    const printed = await interrupt(true);
    // The case that was running fails only because we stopped the implementation: not a result.
    assert.doesNotMatch(printed, /INR-001|cases: /);
  });

  it('Ctrl-C while the implementation is still starting: stopped, DATA_DIR removed, no error, summary or report', async () => {
    const reportDir = await tempDir('sik-stuck-report-');
    try {
      const report = join(reportDir.path, 'report.json');
      const printed = await interrupt(false, ['--report', 'json', report]);
      assert.doesNotMatch(printed, /before answering HTTP|never answered|cases: |CONFORMANT/);
      assert.equal(existsSync(report), false, 'a report was written for an interrupted run');
    } finally {
      await reportDir.remove();
    }
  });
});
