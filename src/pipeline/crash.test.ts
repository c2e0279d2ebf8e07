/**
 * Crash test: the real `serve` command as a child process (same runtime as the test, via tsRunner),
 * driven by the Sentry emulator with signed issue.created webhooks while it is SIGKILLed several times
 * mid-load and restarted on the same DATA_DIR and port. Pushover answers after a short delay, so the
 * worker always has sends in flight when a kill lands: the in-doubt window is exercised on purpose.
 *
 * Accounting is exact, from every incarnation's stdout log and the emulator's messages (by issue id):
 * - NOTIFY_IN_DOUBT=resend (default): no acknowledged webhook lost; an issue notified more than once had
 *   an in-doubt resend logged for its key, and at most 1 + (its resends) messages; every other issue once.
 * - NOTIFY_IN_DOUBT=dead-letter: no issue notified twice; every acknowledged webhook has exactly one
 *   message or is a dead letter marked in doubt (read with the `dead-letters` command after the server stops).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startSentryEmulator, type SentryEmulator } from '../../conformance/emulator/index.ts';
import { freePort } from '../../conformance/target.ts';
import { startPushoverEmulator, type PushoverEmulator } from '../../conformance/pushover.ts';
import { deadLettersCommand } from '../outbox/cli.ts';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { IN_DOUBT_REASON } from './deliver.ts';
import { RESENT_MSG } from './pipeline.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONCURRENCY = 8;
/**
 * Pushover answers after this long while the kills go on: with NOTIFY_CONCURRENCY 2 the worker drains
 * slower than webhooks arrive, so a backlog builds and a kill nearly always finds a send between its start
 * marker and its ack (the in-doubt window). Cleared once the last restart is done.
 */
const PUSHOVER_LATENCY_MS = 30;

interface Child { proc: ChildProcess; exited: Promise<void>; ready: Promise<void>; err(): string }

/** Starts `serve`; every complete stdout line goes to `lines` (a SIGKILL can only cut the last one). */
function serve(env: Record<string, string>, envFile: string, lines: string[]): Child {
  const [cmd, ...args] = tsRunner(CLI);
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' };
  const proc = spawn(cmd!, [...args, 'serve', '--dotenv', envFile], { env: { ...base, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"msg":"ready"')) resolve();
    });
    void exited.then(() => reject(new Error(`serve exited before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  return { proc, exited, ready, err: () => stderr };
}

/** The JSON log records among `lines` (anything else a runtime prints is skipped). */
function records(lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    try {
      const r = JSON.parse(line) as unknown;
      if (r && typeof r === 'object') out.push(r as Record<string, unknown>);
    } catch { /* not a log line */ }
  }
  return out;
}

interface PipelineHealthView { pipeline?: { outbox: { pending: number }; deadLetters: number; inDoubt: { resent: number; deadLettered: number } } }

describe('crash safety under load: SIGKILL mid-load, restart, nothing lost, repeats only for sends in doubt', () => {
  let sentry: SentryEmulator;
  let pushover: PushoverEmulator;
  let dir: { path: string; remove(): Promise<void> };
  let child: Child | undefined;
  /** Every server started, so a failed case cannot leave one running (it would keep the test alive). */
  const children = new Set<Child>();
  before(async () => {
    // Sentry's real limit (40 issue fetches a second per token) would make the drain a series of 429
    // backoffs; rate limits are tested elsewhere, this test is about crashes.
    sentry = await startSentryEmulator({ apps: [{ verifyInstall: false, published: false }], apiRateLimit: { limit: 100_000, windowSec: 1, concurrentLimit: 25 } });
    pushover = await startPushoverEmulator();
    dir = await tempDir('sik-pipeline-crash-');
    await writeFile(`${dir.path}/empty.env`, '# nothing\n');
  });
  after(async () => {
    for (const c of children) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
    await sentry.close();
    await pushover.close();
    await dir.remove();
  });

  /**
   * Installs a fresh installation against a fresh server (own DATA_DIR and port), sends `n` webhooks from
   * CONCURRENCY closed-loop senders, SIGKILLs and restarts the server after about `killAfter` answered
   * ones each, and waits for the last incarnation to drain its outbox. The server is left running.
   */
  async function crashLoad(name: string, n: number, killAfter: number[], extraEnv: Record<string, string>) {
    const started = performance.now();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const app = sentry.app;
    const dataDir = `${dir.path}/${name}`;
    const env = {
      SENTRY_URL: sentry.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret,
      SENTRY_APP_SLUG: app.slug, VERIFY_INSTALL: 'false', HOST: '127.0.0.1', PORT: String(port),
      DATA_DIR: dataDir, LOG_LEVEL: 'info', // 'ready' is an info line
      PUSHOVER_URL: pushover.url, PUSHOVER_TOKEN: pushover.token, PUSHOVER_USER: pushover.user, PUSHOVER_RETRY_MIN_MS: '50',
      ...extraEnv,
    };
    const lines: string[] = [];
    const debug = (m: string) => { if (process.env.CRASH_DEBUG) console.error(`[crash ${name}] ${m}`); };
    const start = async () => {
      const c = serve(env, `${dir.path}/empty.env`, lines);
      child = c;
      children.add(c);
      void c.exited.then(() => children.delete(c));
      await c.ready;
      debug('ready');
    };
    await start();
    sentry.updateApp(app.slug, { webhookUrl: `${base}/webhook`, redirectUrl: `${base}/setup` });
    const installed = await sentry.install({ org: `crash-${name}` });
    assert.equal((await installed.webhook)?.delivered, true);
    const installationId = installed.installation.uuid;
    pushover.inject({ kind: 'latency', ms: PUSHOVER_LATENCY_MS, count: 100_000 });

    const kills = killAfter.map((k) => k + Math.floor(Math.random() * 20));
    let killCount = 0;
    let answered = 0;
    let gate: Promise<void> = Promise.resolve();
    const acked = new Set<string>();
    const all: string[] = [];
    let next = 0;

    async function restartAfterKill(): Promise<void> {
      const victim = child!;
      killCount++;
      victim.proc.kill('SIGKILL');
      await victim.exited;
      debug(`killed after ${answered} answered`);
      await start();
    }

    async function sender(): Promise<void> {
      while (next < n) {
        // Claim the slot before waiting: several senders resumed in one tick must not overshoot n.
        next++;
        await gate;
        const { issueId, delivery } = await sentry.emitIssue({ installationId });
        all.push(issueId);
        if (delivery?.attempts.some((a) => a.status >= 200 && a.status < 300)) acked.add(issueId);
        answered++;
        if (kills.length > 0 && answered >= kills[0]!) {
          kills.shift();
          // New webhooks wait for the restart; those in flight now hit the kill.
          gate = restartAfterKill();
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, () => sender()));
    await gate;
    pushover.clearFaults(); // the kills are over: drain at full speed
    const loadMs = performance.now() - started;
    assert.equal(killCount, killAfter.length);
    assert.equal(all.length, n);
    assert.ok(acked.size >= n - killAfter.length * CONCURRENCY, `only ${acked.size} of ${n} acknowledged`);

    // Let the last incarnation drain its outbox.
    const deadline = Date.now() + 40_000;
    let health: PipelineHealthView | undefined;
    for (;;) {
      const res = await request(`${base}/healthz`).catch(() => undefined);
      health = res ? await res.body.json() as PipelineHealthView : undefined;
      debug(`pending ${health?.pipeline?.outbox.pending}`);
      if (health?.pipeline && health.pipeline.outbox.pending === 0) break;
      if (Date.now() > deadline) throw new Error(`outbox did not drain: ${JSON.stringify(health)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const messages = new Map<string, number>();
    for (const m of pushover.messages()) {
      const [inst, , , issueId] = m.params.tags?.split(':') ?? [];
      if (inst === installationId && issueId) messages.set(issueId, (messages.get(issueId) ?? 0) + 1);
    }
    for (const issueId of messages.keys()) assert.ok(all.includes(issueId), `message for unknown issue ${issueId}`);
    const lost = [...acked].filter((id) => !messages.has(id));
    const resends = new Map<string, number>();
    for (const r of records(lines)) {
      if (r['msg'] !== RESENT_MSG) continue;
      assert.equal(r['level'], 'warn');
      const key = String(r['dedupeKey']);
      resends.set(key, (resends.get(key) ?? 0) + 1);
    }
    const keyOf = (issueId: string) => `${installationId}:issue:created:${issueId}`;
    return { base, dataDir, installationId, acked, all, messages, lost, resends, keyOf, health: health!.pipeline!, lines, loadMs, totalMs: performance.now() - started };
  }

  /** Stops the server the gentle way (SIGTERM: the outbox is closed and its lock released). */
  async function stopServer(): Promise<void> {
    const c = child!;
    c.proc.kill('SIGTERM');
    await c.exited;
    child = undefined;
  }

  it('NOTIFY_IN_DOUBT=resend (default): N=500, 4 SIGKILLs: none lost; every repeat is an in-doubt resend logged for its key', { timeout: 120_000 }, async (t) => {
    const r = await crashLoad('resend', 500, [70, 160, 260, 360], {});
    assert.deepEqual(r.lost, [], 'acknowledged webhooks without a notification');
    assert.equal(r.health.deadLetters, 0);
    const repeated: string[] = [];
    for (const [issueId, count] of r.messages) {
      const resent = r.resends.get(r.keyOf(issueId)) ?? 0;
      if (count > 1) {
        repeated.push(issueId);
        assert.ok(resent >= 1, `issue ${issueId} notified ${count}× with no in-doubt resend logged`);
      }
      assert.ok(count <= 1 + resent, `issue ${issueId} notified ${count}× with ${resent} in-doubt resend(s) logged`);
    }
    for (const issueId of r.acked) assert.ok((r.messages.get(issueId) ?? 0) === 1 || repeated.includes(issueId));
    const resentTotal = [...r.resends.values()].reduce((a, b) => a + b, 0);
    const extra = [...r.messages.values()].reduce((a, b) => a + b - 1, 0);
    const unacked = [...r.messages.keys()].filter((i) => !r.acked.has(i)).length;
    t.diagnostic(`acked ${r.acked.size}/500, notified ${r.messages.size} issues (${unacked} not acked), duplicate messages ${extra} on ${repeated.length} issues, in-doubt resends logged ${resentTotal} (last incarnation's /healthz inDoubt ${JSON.stringify(r.health.inDoubt)}); load ${Math.round(r.loadMs)} ms, total ${Math.round(r.totalMs)} ms`);
    await stopServer();
  });

  it('NOTIFY_IN_DOUBT=dead-letter: N=150, 2 SIGKILLs: no duplicate; each acknowledged webhook is one message or an in-doubt dead letter', { timeout: 120_000 }, async (t) => {
    const r = await crashLoad('dead-letter', 150, [50, 100], { NOTIFY_IN_DOUBT: 'dead-letter' });
    await stopServer();
    const out: string[] = [];
    const err: string[] = [];
    const code = await deadLettersCommand(['list', '--json', '--data-dir', r.dataDir], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
    assert.equal(code, 0, err.join('\n'));
    const dead = JSON.parse(out.join('\n')) as Array<{ key: string; lastError?: string; inDoubt?: boolean }>;
    assert.equal(dead.length, r.health.deadLetters, 'the CLI and the last /healthz agree');
    for (const d of dead) {
      assert.equal(d.lastError, IN_DOUBT_REASON, `dead letter ${d.key} for another reason`);
      assert.match(d.lastError ?? '', /^in doubt: .*may already have been delivered/);
      assert.equal(d.inDoubt, true);
    }
    const inDoubtKeys = new Set(dead.map((d) => d.key));
    const duplicates = [...r.messages].filter(([, count]) => count > 1);
    assert.deepEqual(duplicates, [], 'issues notified more than once');
    assert.deepEqual(r.resends, new Map(), 'nothing resent');
    for (const issueId of r.acked) {
      const count = r.messages.get(issueId) ?? 0;
      assert.ok(count === 1 || inDoubtKeys.has(r.keyOf(issueId)), `acknowledged issue ${issueId}: ${count} messages and no in-doubt dead letter`);
    }
    const deliveredAnyway = dead.filter((d) => r.messages.has(d.key.split(':')[3]!)).length;
    t.diagnostic(`acked ${r.acked.size}/150, notified ${r.messages.size} issues, duplicates 0, in-doubt dead letters ${dead.length} (${deliveredAnyway} had been delivered, ${dead.length - deliveredAnyway} not); load ${Math.round(r.loadMs)} ms, total ${Math.round(r.totalMs)} ms`);
  });
});
