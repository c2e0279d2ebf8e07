/**
 * The webhook benchmark's servers, each in its own child process so the load driver (in the parent)
 * never shares an event loop or a core with the server it measures, the same way for both targets:
 * `bare` is a `node:http` server that reads the whole body and answers 200; `floor` is the least a durable
 * ack path can do ({@link startFloorServer}: verify, parse, O_DSYNC group-commit write); `ours` is the real server
 * with the fsync'd outbox ({@link startBenchTarget}), logging its JSON lines to a file as `serve > file`
 * would. The parent talks to the child over stdin (commands) and stderr (one JSON line per answer).
 *
 * @example
 * const child = await spawnBenchServer('ours', { secret, installationId, logFile: join(dir, 'ours.log') });
 * const before = await child.stats(); // … drive load at child.url …
 * const after = await child.stats();  // after.cpuMs - before.cpuMs = server CPU spent on the run
 * await child.close();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../log.ts';
import type { OutboxStats } from '../outbox/outbox.ts';
import { isDeno, tempDir, tsRunner } from '../testing/runtime.ts';
import { startBenchTarget } from './bench-target.ts';
import { startFloorServer } from './bench-floor.ts';

/** Which server a child runs. */
export type BenchServerKind = 'bare' | 'floor' | 'ours';

/** What a child reports on `stats`. */
export interface BenchServerStats {
  /** CPU time (user + system) the child process has used so far, ms. */
  cpuMs: number;
  /** Of which in the kernel (system time: socket and file syscalls, fsync), ms. */
  sysMs: number;
  /**
   * Time the main thread's event loop was busy (not waiting for I/O) so far, ms; undefined where the
   * runtime does not measure it (Deno's `eventLoopUtilization` always says 0).
   */
  loopBusyMs?: number;
  /** The outbox counters (ours only). */
  outbox?: OutboxStats;
}

/** A running child server. */
export interface BenchServer {
  readonly kind: BenchServerKind;
  readonly url: string;
  stats(): Promise<BenchServerStats>;
  /** Ends stdin; the child closes its server (and outbox) and exits. */
  close(): Promise<void>;
}

/**
 * A bare `node:http` server that reads the request body fully (as ours must, to verify it) and
 * answers 200 `{"ok":true}`: the baseline.
 *
 * @example
 * const bare = await startBareServer(); await fetch(bare.url, { method: 'POST', body: 'x' }); await bare.close();
 */
export async function startBareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => { chunks.push(chunk); size += chunk.length; });
    req.on('end', () => {
      // Concatenated like ours does, so the baseline pays for holding the body too.
      const body = Buffer.concat(chunks, size);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11, 'x-body-bytes': body.length });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

const MARK = 'bench-server ';

function cpu(): Omit<BenchServerStats, 'outbox'> {
  const u = process.cpuUsage();
  const busy = isDeno ? undefined : performance.eventLoopUtilization().active;
  return { cpuMs: (u.user + u.system) / 1000, sysMs: u.system / 1000, ...(busy !== undefined ? { loopBusyMs: busy } : {}) };
}

/**
 * Child side: starts the server named by `args` (`bare|ours [fsync|none]`), reading the secret and
 * installation id from BENCH_SECRET / BENCH_INSTALLATION, and serves stdin commands until stdin ends.
 */
export async function childMain(args: string[]): Promise<void> {
  const kind = args[0] as BenchServerKind;
  const durability = args[1] === 'none' ? 'none' : 'fsync';
  const say = (message: object) => process.stderr.write(`${MARK}${JSON.stringify(message)}\n`);
  let url: string;
  let close: () => Promise<void>;
  let outboxStats: (() => OutboxStats) | undefined;
  if (kind === 'bare') {
    ({ url, close } = await startBareServer());
  } else if (kind === 'floor') {
    const secret = process.env.BENCH_SECRET;
    if (!secret) throw new Error('BENCH_SECRET is required');
    const dir = await tempDir('sik-bench-floor-');
    const floor = await startFloorServer({ secret, dir: dir.path, durability });
    url = floor.url;
    close = async () => { await floor.close(); await dir.remove(); };
  } else if (kind === 'ours') {
    const secret = process.env.BENCH_SECRET;
    const installationId = process.env.BENCH_INSTALLATION;
    if (!secret || !installationId) throw new Error('BENCH_SECRET and BENCH_INSTALLATION are required');
    // Logs go to stdout (a file, set up by the parent) at info: one `request` line per webhook, as in production.
    // BENCH_LOG_LEVEL=warn drops the request lines (to measure what they cost).
    const level = process.env.BENCH_LOG_LEVEL === 'warn' ? 'warn' : 'info';
    const target = await startBenchTarget({ durability, secret, installationId, logger: createLogger({ level }) });
    ({ url, close } = target);
    outboxStats = target.stats;
  } else {
    throw new Error(`unknown bench server kind ${String(kind)}`);
  }
  say({ url });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'stats') say({ ...cpu(), ...(outboxStats ? { outbox: outboxStats() } : {}) });
  }
  await close();
  process.exit(0);
}

/** Options for {@link spawnBenchServer}. */
export interface SpawnBenchServerOptions {
  durability?: 'fsync' | 'none';
  /** Required for `floor` and `ours`. */
  secret?: string;
  installationId?: string;
  /** Where the child's stdout (ours: its JSON log lines) goes; default discarded. */
  logFile?: string;
  /** Extra runtime flags for a Node child, e.g. `['--cpu-prof', '--cpu-prof-dir=prof']` (ignored under Deno). */
  nodeArgs?: string[];
  /** How long to wait for the child to listen; default 30 s (tsx or Deno compile on a loaded CPU). */
  startTimeoutMs?: number;
}

/** Parent side: starts a child server and waits until it listens. */
export async function spawnBenchServer(kind: BenchServerKind, options: SpawnBenchServerOptions = {}): Promise<BenchServer> {
  const [cmd, ...runArgs] = tsRunner(fileURLToPath(import.meta.url));
  if (!isDeno && options.nodeArgs) runArgs.unshift(...options.nodeArgs);
  const logFd = options.logFile ? openSync(options.logFile, 'a', 0o600) : undefined;
  let child: ChildProcess;
  try {
    child = spawn(cmd!, [...runArgs, kind, options.durability ?? 'fsync'], {
      stdio: ['pipe', logFd ?? 'ignore', 'pipe'],
      env: {
        ...process.env,
        BENCH_SERVER_CHILD: '1',
        ...(options.secret ? { BENCH_SECRET: options.secret } : {}),
        ...(options.installationId ? { BENCH_INSTALLATION: options.installationId } : {}),
      },
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  const waiting: Array<(message: Record<string, unknown>) => void> = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const w of waiting.splice(0)) w({ error: failure.message });
  };
  void exited.then((code) => fail(new Error(`bench ${kind} server exited (${code})`)));
  child.once('error', fail);
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.startsWith(MARK)) {
      process.stderr.write(`[${kind}] ${line}\n`);
      return;
    }
    waiting.shift()?.(JSON.parse(line.slice(MARK.length)) as Record<string, unknown>);
  });
  const answer = (): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    if (failure) return reject(failure);
    waiting.push((m) => (typeof m.error === 'string' ? reject(new Error(m.error)) : resolve(m)));
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const started = await Promise.race([
    answer(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench ${kind} server did not start`)), options.startTimeoutMs ?? 30_000);
    }),
  ]).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  }).finally(() => clearTimeout(timer));
  return {
    kind,
    url: String(started.url),
    async stats() {
      const reply = answer();
      child.stdin!.write('stats\n');
      return (await reply) as unknown as BenchServerStats;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.end();
      await exited;
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}` || (import.meta as { main?: boolean }).main === true;
if (isMain && process.env.BENCH_SERVER_CHILD === '1') await childMain(process.argv.slice(2));
