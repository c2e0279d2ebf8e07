import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it, mock } from 'node:test';
import { createServer } from 'node:net';
import { request } from 'undici';
import { run } from './main.ts';
import { tsRunner } from '../../src/testing/runtime.ts';

/** Whether this machine lets a process listen on `host` (a sandbox may allow or forbid odd addresses). */
async function canListen(host: string): Promise<boolean> {
  const probe = createServer();
  const usable = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, host, () => resolve(true));
  });
  if (usable) await new Promise((resolve) => probe.close(resolve));
  return usable;
}

describe('emulator command', () => {
  afterEach(() => { mock.restoreAll(); });
  it('a port in use is named, without the usage text, and exits 2', { timeout: 10_000 }, async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const errors: string[] = [];
    mock.method(console, 'error', (...parts: unknown[]) => { errors.push(parts.join(' ')); });
    try {
      assert.equal(await run(['--port', String(port)]), 2);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    assert.match(errors.join('\n'), /cannot listen: .*EADDRINUSE.*choose another --port/);
    assert.doesNotMatch(errors.join('\n'), /usage:/);
  });

  it('--pushover-port: validated like --port, and the Pushover emulator listens there', { timeout: 10_000 }, async () => {
    const errors: string[] = [];
    mock.method(console, 'error', (...parts: unknown[]) => { errors.push(parts.join(' ')); });
    assert.equal(await run(['--pushover-port', '70000']), 2);
    assert.equal(await run(['--pushover-port', 'abc']), 2);
    assert.match(errors.join('\n'), /bad --pushover-port "70000"[\s\S]*bad --pushover-port "abc"/);
    errors.length = 0;
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      assert.equal(await run(['--pushover-port', String(port)]), 2);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
    assert.match(errors.join('\n'), /cannot listen: .*EADDRINUSE.*--pushover-port/);
  });

  it('an empty, blank or non-decimal port, or an empty --host, is refused with exit 2 (not "any free port")', { timeout: 10_000 }, async () => {
    const errors: string[] = [];
    mock.method(console, 'error', (...parts: unknown[]) => { errors.push(parts.join(' ')); });
    // Each of these would otherwise start listening and wait for a signal (the test would time out).
    for (const args of [['--port', ''], ['--port', ' '], ['--pushover-port', ''], ['--region-port', ''],
      ['--port', '0x10'], ['--port', '1e3'], ['--port=-0'], ['--host', '']]) {
      errors.length = 0;
      assert.equal(await run(args), 2, args.join(' '));
      assert.match(errors[0] ?? '', args[0]?.startsWith('--host') ? /^emulator: bad --host "": expected an address/ : /^emulator: bad --[a-z-]+ ".*": expected an integer 0 to 65535/, args.join(' '));
    }
  });

  it('an address this machine does not have is named as "cannot listen" on both runtimes', { timeout: 10_000 }, async (t) => {
    // 192.0.2.1 is TEST-NET-1 (never local): Node says EADDRNOTAVAIL, Deno says EINVAL.
    const host = '192.0.2.1';
    // With net.ipv4.ip_nonlocal_bind=1 (or a sandbox's own network stack) any address can be bound.
    if (await canListen(host)) return t.diagnostic(`this machine lets a process listen on ${host}: no address to refuse`);
    const errors: string[] = [];
    mock.method(console, 'error', (...parts: unknown[]) => { errors.push(parts.join(' ')); });
    assert.equal(await run(['--host', host]), 2);
    assert.match(errors.join('\n'), /^emulator: cannot listen: .*192\.0\.2\.1.*--host/);
    assert.doesNotMatch(errors.join('\n'), /usage:/);
  });

  it('a bad --verify-install / --jwt-refresh names the option and exits 2 (it used to leave the Pushover emulator listening, so the command never exited)', { timeout: 45_000 }, async () => {
    const [cmd, ...args] = tsRunner(fileURLToPath(new URL('../../src/cli.ts', import.meta.url)));
    for (const [option, value] of [['--verify-install', 'maybe'], ['--jwt-refresh', 'nah']] as const) {
      const child = spawn(cmd as string, [...args, 'emulator', option, value], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
      const exited = await new Promise<number | null>((resolve) => {
        // Two cold starts of the CLI, under coverage on a loaded CI machine: generous, yet a hang still fails.
        const hung = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 20_000);
        child.on('exit', (code) => { clearTimeout(hung); resolve(code); });
      });
      assert.equal(exited, 2, `${option} ${value}: ${err}`);
      assert.match(err, new RegExp(`^emulator: bad ${option} "${value}": expected true or false`));
    }
  });

  it('--host applies to the Pushover emulator as well as to Sentry', { timeout: 10_000 }, async (t) => {
    // 127.0.0.2 is loopback on Linux; the Pushover emulator used to listen on 127.0.0.1 whatever --host said.
    if (!await canListen('127.0.0.2')) return t.diagnostic('127.0.0.2 cannot be listened on here (not Linux loopback)');
    const lines: string[] = [];
    let printed!: () => void;
    const ready = new Promise<void>((resolve) => { printed = resolve; });
    mock.method(console, 'log', (...parts: unknown[]) => { lines.push(parts.join(' ')); printed(); });
    const status = run(['--host', '127.0.0.2']);
    await ready;
    const out = lines.join('\n');
    const sentryUrl = /^SENTRY_URL=(\S+)$/m.exec(out)?.[1];
    const pushoverUrl = /^PUSHOVER_URL=(\S+)$/m.exec(out)?.[1];
    try {
      assert.match(sentryUrl ?? '', /^http:\/\/127\.0\.0\.2:\d+$/, out);
      assert.match(pushoverUrl ?? '', /^http:\/\/127\.0\.0\.2:\d+$/, out);
      // undici, not fetch: Deno's fetch would go through an HTTP_PROXY whose NO_PROXY lists only 127.0.0.1.
      const answer = await request(`${pushoverUrl}/1/messages.json`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: 'x', user: 'y', message: 'hi' }).toString(),
      });
      assert.equal(answer.statusCode, 400);
      await answer.body.dump();
    } finally {
      process.emit('SIGTERM');
    }
    assert.equal(await status, 0);
  });

  it('starts in well under 2 s, prints what an integration needs, and exits 0 on SIGTERM', { timeout: 20_000 }, async () => {
    const [cmd, ...args] = tsRunner(fileURLToPath(new URL('../../src/cli.ts', import.meta.url)));
    const started = performance.now();
    const child = spawn(cmd as string, [...args, 'emulator', '--webhook-url', 'http://127.0.0.1:9/webhook', '--region-orgs', 'eu-org', '--owner-org', 'acme'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(`${code}/${signal}`)));
    const ready = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/Ctrl-C stops it/.test(out)) resolve(performance.now() - started);
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    const url = /^SENTRY_URL=(\S+)$/m.exec(out)?.[1];
    assert.ok(url, out);
    assert.match(out, /^SENTRY_CLIENT_ID=[0-9a-f]{64}$/m);
    assert.match(out, /^SENTRY_CLIENT_SECRET=[0-9a-f]{64}$/m);
    assert.match(out, /^PUSHOVER_URL=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(out, /_emulator\/install/);
    const regionUrl = /^SENTRY_REGION_URL=(\S+)$/m.exec(out)?.[1];
    assert.match(regionUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, out);
    assert.equal((await fetch(`${regionUrl}/api/0/organizations/eu-org/`)).status, 401);
    const refused = await fetch(`${url}/_emulator/install`, { method: 'POST', body: '{"org":"other"}' });
    assert.equal(refused.status, 404);
    await refused.body?.cancel();
    const state = await fetch(`${url}/_emulator/state`);
    assert.equal(state.status, 200);
    assert.equal(((await state.json()) as { apps: { webhookUrl: string }[] }).apps[0]?.webhookUrl, 'http://127.0.0.1:9/webhook');
    // process.kill, not child.kill: Deno's child_process reports any child it killed as
    // (null, 'SIGTERM') even when the child handled the signal and exited 0.
    process.kill(child.pid as number, 'SIGTERM');
    assert.equal(await exited, '0/null');
    // Startup includes the runtime's own boot; the emulator itself starts in milliseconds.
    assert.ok(ready < 2000 * (process.env.CI ? 3 : 1), `ready after ${Math.round(ready)} ms`);
    console.log(`emulator command ready after ${Math.round(ready)} ms`);
  });
});
