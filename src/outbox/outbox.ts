import { closeSync, constants as fsConstants, fdatasync, fdatasyncSync, fsync, mkdirSync, openSync, readFileSync, renameSync, rmSync, truncateSync, write, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as setTimer, clearTimeout as clearTimer } from 'node:timers';
import { promisify } from 'node:util';
import { type Clock, systemClock } from '../clock.ts';
import { type RetryPolicy, backoffMs, retryPolicy } from './backoff.ts';
import { encodeRecordBytes, parseJournal } from './journal.ts';
import { acquireLock } from './lock.ts';
import { type JobState, type JournalRecord, OutboxState, type StateCapture, snapshotRecords } from './state.ts';

export { OutboxLockedError } from './lock.ts';
export type { RetryPolicy } from './backoff.ts';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

/** The journal's file name inside the outbox directory. */
export const JOURNAL_FILE = 'journal.log';
const COMPACT_TMP = 'journal.compact.tmp';
/**
 * With fsync durability the journal is opened O_DSYNC where the platform has it: each write returns once
 * its data is on disk, exactly what write + fdatasync gives, in one system call and one thread-pool round
 * trip instead of two (the ack waits on it). Elsewhere (Windows) the writer falls back to write + fdatasync.
 */
const O_DSYNC: number | undefined = (fsConstants as { O_DSYNC?: number }).O_DSYNC;

/**
 * Opens the journal for writing (O_DSYNC when `dsync`). Not O_APPEND: the file may be preallocated past
 * its last record, so records are written at explicit offsets.
 */
function openJournal(path: string, dsync: boolean): number {
  return openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | (dsync ? O_DSYNC! : 0), 0o600);
}

/**
 * With fsync durability the journal is extended with zeros this far ahead of its last record, in the
 * background. A durable write inside already-allocated space changes no file metadata (size, extents),
 * so the sync that acknowledges a group commit is about half as long and half the CPU (measured on ext4:
 * 0.30 → 0.15 ms, 133 → 65 µs per O_DSYNC write of 16 KB).
 */
const PREALLOCATE_BYTES = 4 * 1024 * 1024;

/**
 * Compaction encodes and writes its snapshot in slices of about this many bytes, yielding to the event
 * loop between them: a large live state never blocks the server for more than one slice (well under 1 ms).
 */
const COMPACT_SLICE_BYTES = 64 * 1024;

/** setTimeout's ceiling (2^31-1 ms); longer waits are re-armed when they fire. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options for `openOutbox`. Only `dir` is required. */
export interface OutboxOptions {
  /** Directory holding the journal and the lock (created 0700 if missing). */
  dir: string;
  /** Time source for due times, dedupe windows and timestamps. Default: the system clock. */
  clock?: Clock;
  /** How long a key keeps rejecting re-enqueues after its job ended. Default 24 h. Live jobs always dedupe. */
  dedupeWindowMs?: number;
  /**
   * Extra real milliseconds to wait for more records before a flush. Default 0: flush at once, and batch
   * whatever arrives while that flush is in progress (already enough to share fsyncs under load).
   */
  groupCommitMaxDelayMs?: number;
  /** Retry schedule; see `RetryPolicy`. */
  retry?: Partial<RetryPolicy>;
  /** Uniform [0, 1) source for retry jitter. Default Math.random. */
  random?: () => number;
  /**
   * 'fsync' (default): every resolved write is on disk (an O_DSYNC journal, or write + fdatasync where the
   * platform lacks O_DSYNC). 'none': no fsync at all — survives a
   * process crash but not power loss; for tests and the benchmark baseline.
   */
  durability?: 'fsync' | 'none';
  /** Most appends per flush. Default unlimited; 1 gives one fsync per job (benchmark baseline). */
  maxBatch?: number;
  /** Compact when the journal reaches this size and twice its size after the last compaction. Default 16 MiB. */
  compactAtBytes?: number;
  /**
   * Bytes of zeros kept allocated ahead of the journal's end with fsync durability (see docs/outbox.md).
   * Default 4 MiB; 0 turns preallocation off (the file then ends at its last record).
   */
  preallocateBytes?: number;
  /** Called with operator-facing warnings (damaged journal tail kept aside, …). Default console.warn. */
  onWarning?: (message: string) => void;
}

/** A job as the handler sees it. */
export interface Job {
  id: string;
  key: string;
  group: string;
  payload: unknown;
  enqueuedAt: number;
  /** Failed attempts so far (0 on the first run). */
  attempts: number;
  lastError?: string;
  /**
   * Present when an earlier run called `markStarted` and then ended without an outcome (the process was
   * killed, or the worker stopped): its side effect may or may not have happened. See docs/outbox.md.
   */
  inDoubt?: true;
  /** How many such runs there were since the last outcome of a run that called `markStarted` (≥ 1 when `inDoubt`). */
  inDoubtCount?: number;
}

/** What a handler decides. Throwing counts as `retry` with the error's message as reason. */
export type Outcome =
  | { outcome: 'done' }
  /**
   * `at`: run no sooner than this epoch ms (default: backoff). `countAttempt: false` for pauses that are not
   * failures (quota). `inDoubt`: the side effect may have happened although the run failed (its answer was
   * lost): the job is in doubt for its next run, as after a crash (see `RunContext.markStarted`).
   */
  | { outcome: 'retry'; reason: string; at?: number; countAttempt?: boolean; inDoubt?: boolean }
  /** `inDoubt`: as for `retry`; the dead letter shows it. */
  | { outcome: 'dead'; reason: string; inDoubt?: boolean };

/** What became of a run, reported to `onSettled` once it is durable. */
export type Settled =
  | { outcome: 'done' }
  | { outcome: 'retry'; due: number; attempts: number; reason: string }
  | { outcome: 'dead'; attempts: number; reason: string }
  /** The job's group was dropped while it ran: the outcome was discarded. */
  | { outcome: 'dropped' };

/** What a handler gets besides the job. */
export interface RunContext {
  /** Aborts when the worker is stopping; a run cut short that way is not counted as an attempt. */
  signal: AbortSignal;
  /**
   * Durably records that this run is about to perform its non-idempotent side effect (a `start` journal
   * record, group-committed with other writes); resolves once it is on disk. Call it right before the
   * effect, after any idempotent preparation. If the run then ends without an outcome (crash, stop), the
   * job's next run sees `job.inDoubt` and can choose to repeat the effect or not; an outcome of this run
   * clears the doubt. Calling it again in the same run writes nothing more. Runs that never call it cost
   * nothing extra. Rejects after the run has ended or when the journal has failed (then do not perform the effect).
   *
   * @example
   * outbox.run(async (job, { markStarted }) => {
   *   if (job.inDoubt) log.warn('may already have been sent', { id: job.id });
   *   const data = await fetchDetails(job.payload);   // idempotent
   *   await markStarted();
   *   await sendNotification(data);                   // not idempotent
   *   return { outcome: 'done' };
   * });
   */
  markStarted(): Promise<void>;
}

/** Runs a job. A run cut short by `signal` (stop) is not counted as an attempt. */
export type Handler = (job: Job, context: RunContext) => Outcome | Promise<Outcome>;

/** Options for `run`. */
export interface RunOptions {
  /** Jobs run at the same time. Default 1. */
  concurrency?: number;
  /** Called after a run's outcome is durable (metrics, logs, tests). Exceptions are ignored. */
  onSettled?: (job: Job, settled: Settled) => void;
}

/** A dead letter as listed by `deadLetters()`. */
export interface DeadLetter extends Job {
  deadAt: number;
}

/** Counters for /healthz. */
export interface OutboxStats {
  /** Jobs waiting or running (in-flight ones included). */
  pending: number;
  inFlight: number;
  dead: number;
  /** Jobs acknowledged done, over the outbox's life. */
  done: number;
  /** Jobs dropped with their group, over the outbox's life. */
  dropped: number;
  /** Enqueue time of the oldest pending job, if any. */
  oldestPendingAt?: number;
  /** Flushes and durable flushes (O_DSYNC writes or fdatasyncs) since open (group commit: far fewer than appends under load). */
  flushes: number;
  fsyncs: number;
  appends: number;
  /** Real duration of the last write + fsync, ms. */
  lastFlushMs: number;
  journalBytes: number;
  compactions: number;
  /** Bytes of a damaged tail cut off at open (a crash mid-write). */
  recoveredTailBytes: number;
}

/** The status of the job a key was enqueued as (see `lookup`). */
export type KeyStatus = 'enqueuing' | 'pending' | 'inFlight' | 'dead' | 'done' | 'dropped';

/** A durable job queue with dedupe, retries and dead letters. See docs/outbox.md. */
export interface Outbox {
  /**
   * Adds a job; resolves once it is durable (or once the earlier job with the same key is durable:
   * `duplicate: true` with that job's id).
   */
  enqueue(job: { key: string; group: string; payload: unknown }): Promise<{ id: string; duplicate: boolean }>;
  /** Starts the worker. One worker per outbox. */
  run(handler: Handler, options?: RunOptions): void;
  /** Stops taking jobs, aborts the signal handed to running ones and waits for them. */
  stop(): Promise<void>;
  /** Re-checks for due jobs now (call after moving an injected clock). */
  poke(): void;
  /** Resolves when no write is pending, nothing runs and no job is due at the clock's current time. */
  idle(): Promise<void>;
  /** Durably drops every pending and dead job of `group`; returns how many. Running ones finish but are not recorded. */
  dropGroup(group: string): Promise<number>;
  /** Dead letters, oldest death first. */
  deadLetters(): DeadLetter[];
  /** Moves a dead letter (or all) back to pending with a fresh attempt count; returns how many. */
  replay(target: string): Promise<number>;
  /** What became of the job enqueued under `key` (within the dedupe window). */
  lookup(key: string): { id: string; status: KeyStatus } | undefined;
  stats(): OutboxStats;
  /** Rewrites the journal to live state now (otherwise automatic by size). */
  compact(): Promise<void>;
  /** Stops the worker, flushes, closes the file and releases the lock. */
  close(): Promise<void>;
}

interface Waiter { resolve(): void; reject(e: Error): void }

/** A compaction in progress (see docs/outbox.md, Compaction). */
interface Compaction {
  /** The temp file's descriptor; closed only once no write on it is pending. */
  fd: number;
  /** Bytes written to the temp file. */
  bytes: number;
  /** What the journal received after the captured state: copied to the new journal at the swap. */
  tail: Buffer[];
  /** The snapshot is on disk: the pump may swap the files. */
  ready: boolean;
  /** The outbox is closing or failed: drop the compaction instead of swapping. */
  abandoned: boolean;
  waiters: Waiter[];
  /** Settles (never rejects) when the background writing has ended, either way. */
  written: Promise<void>;
}

interface Pending {
  records: JournalRecord[];
  /** The framed records, encoded once at append time. */
  bytes: Buffer;
  resolve(changed: number): void;
  reject(err: Error): void;
}

function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.length > 500 ? `${msg.slice(0, 497)}...` : msg;
}

/** Writes all of `buf` at file offset `position`. */
async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  for (let off = 0; off < buf.length;) off += (await writeAsync(fd, buf, off, buf.length - off, position + off)).bytesWritten;
}

/** fsync a directory so a create/rename in it is durable. */
async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try { await fsyncAsync(fd); } finally { closeSync(fd); }
}

function jobView(job: JobState): Job {
  const view: Job = { id: job.id, key: job.key, group: job.group, payload: job.payload, enqueuedAt: job.enqueuedAt, attempts: job.attempts };
  if (job.lastError !== undefined) view.lastError = job.lastError;
  if (job.inDoubt) {
    view.inDoubt = true;
    view.inDoubtCount = job.inDoubt;
  }
  return view;
}

function isOutcome(o: unknown): o is Outcome {
  if (!o || typeof o !== 'object') return false;
  const { outcome, reason } = o as { outcome?: unknown; reason?: unknown };
  return outcome === 'done' || ((outcome === 'retry' || outcome === 'dead') && typeof reason === 'string');
}

class FileOutbox implements Outbox {
  private readonly dir: string;
  private readonly path: string;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly delayMs: number;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly sync: boolean;
  /** The fd is O_DSYNC: a completed write is durable, no separate fdatasync. */
  private readonly dsync: boolean;
  private readonly maxBatch: number;
  private readonly compactAtBytes: number;
  private readonly release: () => void;
  private readonly state: OutboxState;
  private fd: number;

  private queue: Pending[] = [];
  private pumping = false;
  private compactRequested: Waiter[] = [];
  private compaction: Compaction | undefined;
  private closing = false;
  /** Encoded bytes and key characters of enqueue records so far: estimates live state for compaction. */
  private enqBytes = 0;
  private enqKeyChars = 0;
  private enqCount = 0;
  private readonly warn: (message: string) => void;
  private preallocate: number;
  /** The journal file's size: records end at `journalBytes`, zeros follow up to here. */
  private allocatedBytes: number;
  /** A background extension in flight, writing zeros from `extendFrom`; nothing else may write there first. */
  private extending: Promise<void> | undefined;
  private extendFrom = 0;
  private failed: Error | undefined;
  private closed = false;
  private reserved = new Map<string, { id: string; done: Promise<number> }>();

  private handler: Handler | undefined;
  private runOptions: Required<Pick<RunOptions, 'concurrency'>> & RunOptions = { concurrency: 1 };
  private inFlight = new Map<string, object>();
  private running = new Set<Promise<void>>();
  private abort = new AbortController();
  private timer: ReturnType<typeof setTimer> | undefined;
  private dispatchQueued = false;
  private idleWaiters: Array<() => void> = [];

  private counters = { flushes: 0, fsyncs: 0, appends: 0, lastFlushMs: 0, journalBytes: 0, compactions: 0, recoveredTailBytes: 0 };
  private bytesAfterCompaction: number;

  constructor(o: OutboxOptions, init: { state: OutboxState; fd: number; dsync: boolean; bytes: number; fileBytes: number; recovered: number; release: () => void }) {
    this.dir = o.dir;
    this.path = join(o.dir, JOURNAL_FILE);
    this.clock = o.clock ?? systemClock;
    this.windowMs = o.dedupeWindowMs ?? 24 * 3600_000;
    this.delayMs = o.groupCommitMaxDelayMs ?? 0;
    this.retry = retryPolicy(o.retry);
    this.random = o.random ?? Math.random;
    this.sync = (o.durability ?? 'fsync') === 'fsync';
    this.dsync = init.dsync;
    this.maxBatch = o.maxBatch ?? Number.POSITIVE_INFINITY;
    this.compactAtBytes = o.compactAtBytes ?? 16 * 1024 * 1024;
    this.state = init.state;
    this.fd = init.fd;
    this.release = init.release;
    this.counters.journalBytes = init.bytes;
    this.counters.recoveredTailBytes = init.recovered;
    this.bytesAfterCompaction = init.bytes;
    this.warn = o.onWarning ?? ((m) => console.warn(m));
    this.preallocate = this.sync ? o.preallocateBytes ?? PREALLOCATE_BYTES : 0;
    this.allocatedBytes = init.fileBytes;
  }

  // ---- writing -------------------------------------------------------------------------------------------

  /** Queues records; resolves (with how many jobs they changed) once they are durable and applied. */
  private append(records: JournalRecord[]): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('outbox is closed'));
    const bytes = records.length === 1 ? encodeRecordBytes(records[0]) : Buffer.concat(records.map(encodeRecordBytes));
    const first = records[0];
    if (records.length === 1 && first!.t === 'enq') {
      this.enqBytes += bytes.length;
      this.enqKeyChars += first!.key.length;
      this.enqCount++;
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ records, bytes, resolve, reject });
      this.counters.appends++;
      if (!this.pumping) void this.pump();
    });
  }

  /** The one writer: takes everything queued, writes it with one write + one fsync, applies it, repeats. */
  private async pump(): Promise<void> {
    this.pumping = true;
    let batch: Pending[] = [];
    try {
      while (this.queue.length > 0 || (this.compactRequested.length > 0 && !this.compaction) || this.compaction?.ready) {
        // Let every callback already due this turn enqueue first (e.g. all producers just answered by the
        // previous flush); otherwise the first one alone gets a flush and batches alternate 1 / N-1.
        if (this.delayMs > 0 && this.queue.some((p) => p.bytes.length > 0)) await new Promise((r) => setTimer(r, this.delayMs));
        else await new Promise((r) => setImmediate(r));
        if (this.compaction?.ready) await this.finishCompaction(this.compaction);
        if (!this.compaction && !this.closing && (this.compactRequested.length > 0 || this.shouldCompact())) this.startCompaction();
        batch = this.queue.splice(0, this.maxBatch);
        if (batch.length === 0) continue;
        const buf = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((p) => p.bytes));
        if (buf.length > 0) {
          // Never write where a background extension has yet to write its zeros.
          if (this.extending && this.counters.journalBytes + buf.length > this.extendFrom) await this.extending;
          const started = performance.now();
          await writeAll(this.fd, buf, this.counters.journalBytes);
          if (this.sync) {
            if (!this.dsync) await fdatasyncAsync(this.fd);
            this.counters.fsyncs++;
          }
          this.counters.flushes++;
          this.counters.lastFlushMs = performance.now() - started;
          this.counters.journalBytes += buf.length;
          this.compaction?.tail.push(buf);
          this.extend();
        }
        const changed = batch.map((p) => p.records.reduce((n, r) => n + this.state.apply(r), 0));
        batch.forEach((p, i) => p.resolve(changed[i]!));
        batch = [];
        this.kick();
      }
    } catch (err) {
      // After a failed write or fsync the file's tail is unknown (and a later fsync may report success
      // for lost pages), so the outbox refuses further writes; reopening recovers from what is on disk.
      this.failed = new Error(`outbox journal write failed, outbox disabled until reopened: ${errorMessage(err)}`);
      for (const p of [...batch, ...this.queue.splice(0)]) p.reject(this.failed);
      for (const w of this.compactRequested.splice(0)) w.reject(this.failed);
      this.abandonCompaction();
    } finally {
      this.pumping = false;
      this.checkIdle();
    }
  }

  /**
   * Keeps zeros allocated ahead of the last record — as much again as the journal holds, at least 64 KiB and
   * at most `preallocate` (small outboxes stay small) — and when less than a quarter of that is left, writes
   * the next stretch in the background (through the O_DSYNC descriptor, so it is durable when done).
   * Correctness never depends on it: a record written past the allocation is just a slower write.
   */
  private extend(): void {
    if (this.preallocate <= 0 || this.extending || this.failed || this.closing) return;
    const end = this.counters.journalBytes;
    const ahead = Math.min(this.preallocate, Math.max(64 * 1024, end));
    if (end + ahead / 4 <= this.allocatedBytes) return;
    const from = Math.max(end, this.allocatedBytes);
    const zeros = Buffer.alloc(end + ahead - from);
    this.extendFrom = from;
    this.extending = (async () => {
      try {
        await writeAll(this.fd, zeros, from);
        if (!this.dsync) await fdatasyncAsync(this.fd);
        this.allocatedBytes = from + zeros.length;
      } catch (err) {
        // Only a lost optimisation (records are still written durably); stop trying.
        this.preallocate = 0;
        this.warn(`outbox: journal preallocation failed, continuing without it: ${errorMessage(err)}`);
      } finally {
        this.extending = undefined;
      }
    })();
  }

  /**
   * Compact when the journal is past `compactAtBytes`, has doubled since the last compaction, and live state
   * (estimated from the average enqueue record) is at most two thirds of it: a rewrite that cannot shrink the
   * file meaningfully (a backlog the worker has not drained, or no worker at all) is skipped, not repeated.
   */
  private shouldCompact(): boolean {
    const bytes = this.counters.journalBytes;
    if (bytes < this.compactAtBytes || bytes < 2 * this.bytesAfterCompaction) return false;
    const n = Math.max(1, this.enqCount);
    const jobBytes = this.enqBytes / n + 48; // a `job` record is its `enq` plus due/attempts/status
    const keyBytes = this.enqKeyChars / n + 100; // a `key` record: framing, id, time, end
    const live = 64 + this.state.jobs.size * jobBytes + this.state.keys.size * keyBytes;
    return 3 * live <= 2 * bytes;
  }

  /**
   * Compaction, step 1 (in the pump, between flushes): captures the state — references only, no encoding —
   * and writes it to the temp file in the background, slice by slice, while flushes go on. Every flush
   * from here on is also kept as the tail that step 2 appends after the snapshot.
   */
  private startCompaction(): void {
    const waiters = this.compactRequested.splice(0);
    let fd: number;
    try {
      fd = openSync(join(this.dir, COMPACT_TMP), 'w', 0o600);
    } catch (err) {
      this.bytesAfterCompaction = this.counters.journalBytes;
      const error = new Error(`outbox compaction failed: ${errorMessage(err)}`);
      for (const w of waiters) w.reject(error);
      this.warn(`${error.message}; the journal is intact`);
      return;
    }
    const c: Compaction = { fd, bytes: 0, tail: [], ready: false, abandoned: false, waiters, written: Promise.resolve() };
    this.compaction = c;
    const capture = this.state.capture(this.clock.now(), this.windowMs);
    c.written = this.writeSnapshot(c, capture).then(() => {
      if (c.abandoned || this.failed) return this.dropCompaction(c, this.failed ?? new Error('outbox is closed'));
      c.ready = true;
      if (!this.pumping) void this.pump();
    }, (err: unknown) => this.dropCompaction(c, err));
  }

  private async writeSnapshot(c: Compaction, capture: StateCapture): Promise<void> {
    let slice: Buffer[] = [];
    let size = 0;
    const flush = async () => {
      const buf = Buffer.concat(slice, size);
      slice = [];
      size = 0;
      await writeAll(c.fd, buf, c.bytes);
      c.bytes += buf.length;
      if (c.abandoned) throw new Error('outbox is closed');
    };
    for (const rec of snapshotRecords(capture)) {
      const b = encodeRecordBytes(rec);
      slice.push(b);
      size += b.length;
      if (size >= COMPACT_SLICE_BYTES) await flush();
    }
    if (size > 0) await flush();
    if (this.sync) await fdatasyncAsync(c.fd);
  }

  /**
   * Compaction, step 2 (in the pump, so no flush runs meanwhile): appends the tail, syncs, renames the temp
   * file over the journal, syncs the directory and reopens. A crash before the rename leaves the old
   * journal whole; after it, the new one holds the same state.
   */
  private async finishCompaction(c: Compaction): Promise<void> {
    this.compaction = undefined;
    try {
      if (c.tail.length > 0) {
        const tail = Buffer.concat(c.tail);
        c.tail = [];
        await writeAll(c.fd, tail, c.bytes);
        c.bytes += tail.length;
        if (this.sync) await fdatasyncAsync(c.fd);
      }
    } catch (err) {
      this.dropCompaction(c, err); // before the rename: the journal is untouched
      return;
    }
    try {
      await this.extending; // its descriptor is about to be closed
      closeSync(c.fd);
      renameSync(join(this.dir, COMPACT_TMP), this.path);
      if (this.sync) await syncDir(this.dir);
      closeSync(this.fd);
      this.fd = openJournal(this.path, this.dsync);
    } catch (err) {
      for (const w of c.waiters) w.reject(err as Error);
      throw err;
    }
    this.counters.journalBytes = c.bytes;
    this.allocatedBytes = c.bytes;
    this.bytesAfterCompaction = c.bytes;
    this.counters.compactions++;
    for (const w of c.waiters) w.resolve();
  }

  /** Ends a compaction without swapping (the journal is intact): closes and removes the temp file. */
  private dropCompaction(c: Compaction, err: unknown): void {
    if (this.compaction === c) this.compaction = undefined;
    try { closeSync(c.fd); } catch { /* already closed */ }
    try { rmSync(join(this.dir, COMPACT_TMP), { force: true }); } catch { /* removed at the next open */ }
    const error = err instanceof Error ? err : new Error(String(err));
    for (const w of c.waiters) w.reject(error);
    if (!c.abandoned && !this.failed) {
      this.bytesAfterCompaction = this.counters.journalBytes; // no retry until the journal doubles again
      this.warn(`outbox compaction failed, the journal is intact: ${errorMessage(err)}`);
    }
    this.checkIdle();
  }

  /** Marks the running compaction as abandoned; drops it now if its background writing is over. */
  private abandonCompaction(): void {
    const c = this.compaction;
    if (!c) return;
    c.abandoned = true;
    if (c.ready) this.dropCompaction(c, this.failed ?? new Error('outbox is closed'));
  }

  compact(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('outbox is closed'));
    return new Promise<void>((resolve, reject) => {
      this.compactRequested.push({ resolve, reject });
      if (!this.pumping) void this.pump();
    });
  }

  // ---- producing -----------------------------------------------------------------------------------------

  async enqueue(job: { key: string; group: string; payload: unknown }): Promise<{ id: string; duplicate: boolean }> {
    const { key, group, payload } = job ?? {};
    if (typeof key !== 'string' || key === '') throw new TypeError('outbox enqueue: key must be a non-empty string');
    if (typeof group !== 'string' || group === '') throw new TypeError('outbox enqueue: group must be a non-empty string');
    const reserved = this.reserved.get(key);
    if (reserved) {
      await reserved.done;
      return { id: reserved.id, duplicate: true };
    }
    const now = this.clock.now();
    const hit = this.state.lookupKey(key, now, this.windowMs);
    if (hit) return { id: hit.id, duplicate: true };
    const id = randomUUID();
    const done = this.append([{ t: 'enq', id, key, group, payload: payload ?? null, at: now }]);
    this.reserved.set(key, { id, done });
    try {
      await done;
    } finally {
      if (this.reserved.get(key)?.id === id) this.reserved.delete(key);
    }
    return { id, duplicate: false };
  }

  async dropGroup(group: string): Promise<number> {
    return this.append([{ t: 'drop', group, at: this.clock.now() }]);
  }

  deadLetters(): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (const job of this.state.jobs.values()) if (job.status === 'dead') out.push({ ...jobView(job), deadAt: job.deadAt ?? 0 });
    return out.sort((a, b) => a.deadAt - b.deadAt);
  }

  async replay(target: string): Promise<number> {
    const at = this.clock.now();
    const ids = target === 'all' ? this.deadLetters().map((d) => d.id) : [target];
    if (target !== 'all' && this.state.jobs.get(target)?.status !== 'dead') throw new Error(`no dead letter with id ${target}`);
    if (ids.length === 0) return 0;
    return this.append(ids.map((id) => ({ t: 'replay' as const, id, at })));
  }

  lookup(key: string): { id: string; status: KeyStatus } | undefined {
    const reserved = this.reserved.get(key);
    if (reserved) return { id: reserved.id, status: 'enqueuing' };
    const entry = this.state.lookupKey(key, this.clock.now(), this.windowMs);
    if (!entry) return undefined;
    if (entry.end) return { id: entry.id, status: entry.end };
    const job = this.state.jobs.get(entry.id);
    if (!job) return undefined;
    return { id: entry.id, status: this.inFlight.has(entry.id) ? 'inFlight' : job.status };
  }

  stats(): OutboxStats {
    const { pending, dead } = this.state.counts();
    let oldest: number | undefined;
    for (const job of this.state.jobs.values()) if (job.status === 'pending' && (oldest === undefined || job.enqueuedAt < oldest)) oldest = job.enqueuedAt;
    const s: OutboxStats = { pending, inFlight: this.inFlight.size, dead, done: this.state.done, dropped: this.state.dropped, ...this.counters };
    if (oldest !== undefined) s.oldestPendingAt = oldest;
    return s;
  }

  // ---- consuming -----------------------------------------------------------------------------------------

  run(handler: Handler, options: RunOptions = {}): void {
    if (this.closed) throw new Error('outbox is closed');
    if (this.handler) throw new Error('outbox worker already running');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    this.handler = handler;
    this.runOptions = { ...options, concurrency };
    this.abort = new AbortController();
    this.kick();
  }

  async stop(): Promise<void> {
    const wasRunning = this.handler !== undefined;
    this.handler = undefined;
    if (this.timer) clearTimer(this.timer);
    this.timer = undefined;
    if (wasRunning) this.abort.abort();
    await Promise.all([...this.running]);
  }

  poke(): void {
    this.kick();
  }

  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  private isIdle(): boolean {
    if (this.pumping || this.compaction || this.queue.length > 0 || this.inFlight.size > 0 || this.running.size > 0) return false;
    if (!this.handler || this.failed) return true;
    const next = this.state.nextDue();
    return next === undefined || next > this.clock.now();
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Schedules one dispatch pass (coalesced, never re-entrant). */
  private kick(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const handler = this.handler;
    if (handler && !this.failed) {
      const now = this.clock.now();
      while (this.inFlight.size < this.runOptions.concurrency) {
        const job = this.state.takeDue(now);
        if (!job) break;
        const run = this.runJob(handler, job);
        this.running.add(run);
        void run.finally(() => {
          this.running.delete(run);
          this.checkIdle();
        });
      }
      this.armTimer();
    }
    this.checkIdle();
  }

  /** One real timer for the earliest due job, computed from the injected clock's delta. */
  private armTimer(): void {
    if (this.timer) clearTimer(this.timer);
    this.timer = undefined;
    if (!this.handler || this.inFlight.size >= this.runOptions.concurrency) return;
    const next = this.state.nextDue();
    if (next === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.now()));
    // Not unref'd: a running worker with a retry due must keep the process alive; stop()/close() clear it.
    this.timer = setTimer(() => this.kick(), delay);
  }

  private async runJob(handler: Handler, job: JobState): Promise<void> {
    const token = {};
    this.inFlight.set(job.id, token);
    const view = jobView(job);
    const signal = this.abort.signal;
    let ended = false;
    let started: Promise<void> | undefined;
    const markStarted = (): Promise<void> => {
      if (ended) return Promise.reject(new Error('markStarted called after the run ended'));
      started ??= this.append([{ t: 'start', id: job.id, at: this.clock.now() }]).then(() => undefined);
      return started;
    };
    try {
      let outcome: Outcome;
      try {
        const result = await handler(view, { signal, markStarted });
        outcome = isOutcome(result) ? result : { outcome: 'retry', reason: 'handler returned no valid outcome' };
      } catch (err) {
        if (signal.aborted) {
          // Cut short by stop(): not the job's fault, so no attempt is recorded. A start marker the handler
          // did not wait for is applied first, so the requeued job is in doubt as a reopen would see it.
          ended = true;
          await started?.catch(() => undefined);
          this.state.requeue(job.id);
          return;
        }
        outcome = { outcome: 'retry', reason: errorMessage(err) };
      }
      ended = true;
      // A marker the handler did not wait for must not fail silently: the effect may have run without it.
      if (started) await started;
      const settled = await this.settle(job, outcome);
      try { this.runOptions.onSettled?.(view, settled); } catch { /* observers must not break the worker */ }
    } catch {
      // The journal failed (this.failed is set); the job stays pending on disk and runs after a reopen.
    } finally {
      if (this.inFlight.get(job.id) === token) this.inFlight.delete(job.id);
      this.kick();
    }
  }

  private async settle(job: JobState, outcome: Outcome): Promise<Settled> {
    if (!this.state.jobs.has(job.id)) return { outcome: 'dropped' };
    const now = this.clock.now();
    if (outcome.outcome === 'done') {
      const changed = await this.append([{ t: 'ack', id: job.id, at: now }]);
      return changed ? { outcome: 'done' } : { outcome: 'dropped' };
    }
    const reason = errorMessage(outcome.reason);
    // A run that called markStarted has dealt with any earlier doubt; one that did not passes it on. A run
    // whose own effect may have happened (outcome.inDoubt) adds one.
    const current = this.state.jobs.get(job.id);
    const doubts = (current?.started === undefined ? current?.inDoubt ?? 0 : 0) + (outcome.inDoubt === true ? 1 : 0);
    const doubt = doubts ? { inDoubt: doubts } : {};
    const counts = outcome.outcome === 'dead' || outcome.countAttempt !== false;
    const attempts = job.attempts + (counts ? 1 : 0);
    if (outcome.outcome === 'dead' || attempts >= this.retry.maxAttempts) {
      const why = outcome.outcome === 'dead' ? reason : `gave up after ${attempts} attempts: ${reason}`;
      const changed = await this.append([{ t: 'dead', id: job.id, attempts, error: why, at: now, ...doubt }]);
      return changed ? { outcome: 'dead', attempts, reason: why } : { outcome: 'dropped' };
    }
    const due = outcome.at ?? now + backoffMs(attempts, this.retry, this.random);
    const changed = await this.append([{ t: 'retry', id: job.id, attempts, due, error: reason, ...doubt }]);
    return changed ? { outcome: 'retry', due, attempts, reason } : { outcome: 'dropped' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closing = true;
    const c = this.compaction;
    if (c) {
      this.abandonCompaction();
      await c.written; // no write may be pending on its descriptor
      if (this.compaction === c) this.dropCompaction(c, new Error('outbox is closed'));
    }
    if (!this.failed) await this.append([]).catch(() => undefined);
    await this.extending;
    this.closed = true;
    for (const w of this.compactRequested.splice(0)) w.reject(new Error('outbox is closed'));
    try { closeSync(this.fd); } finally { this.release(); }
  }
}

/**
 * Opens (or creates) the outbox in `dir`: takes the lock, replays the journal, cuts off a torn last record.
 *
 * @example
 * const outbox = await openOutbox({ dir: join(dataDir, 'outbox') });
 * const { id, duplicate } = await outbox.enqueue({ key: 'inst:issue:created:42', group: 'inst', payload });
 * outbox.run(async (job) => { await send(job.payload); return { outcome: 'done' }; }, { concurrency: 2 });
 */
export async function openOutbox(options: OutboxOptions): Promise<Outbox> {
  const { dir } = options;
  if (typeof dir !== 'string' || dir === '') throw new TypeError('openOutbox: dir is required');
  retryPolicy(options.retry); // validate before touching the disk
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = acquireLock(dir);
  try {
    rmSync(join(dir, COMPACT_TMP), { force: true }); // an unfinished compaction; the journal is intact
    const path = join(dir, JOURNAL_FILE);
    const { state, bytes, fileBytes, recovered, existed } = loadJournal(dir, options.onWarning ?? ((m) => console.warn(m)), options.clock ?? systemClock, true);
    const sync = (options.durability ?? 'fsync') === 'fsync';
    const dsync = sync && O_DSYNC !== undefined;
    const fd = openJournal(path, dsync);
    if (!existed && sync) await syncDir(dir);
    return new FileOutbox(options, { state, fd, dsync, bytes, fileBytes, recovered, release });
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Reads the journal into a state. With `repair`, a damaged tail is cut off (copied aside first if intact
 * records follow it, which a torn append cannot produce).
 */
function loadJournal(dir: string, warn: (m: string) => void, clock: Clock, repair: boolean) {
  const path = join(dir, JOURNAL_FILE);
  let buf: Buffer;
  let existed = true;
  try {
    buf = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    buf = Buffer.alloc(0);
    existed = false;
  }
  const parsed = parseJournal(buf);
  // A tail of zeros is preallocated space, the journal's normal end: kept, not reported.
  const damaged = parsed.tailBytes > 0 && !parsed.zeroTail;
  if (repair && damaged) {
    if (parsed.intactAfterDamage) {
      const aside = join(dir, `journal.damaged-${clock.now()}.log`);
      writeFileSync(aside, buf.subarray(parsed.validBytes, parsed.validBytes + parsed.damagedBytes), { mode: 0o600 });
      warn(`outbox: journal damaged at byte ${parsed.validBytes} with intact records after it; ` +
        `the ${parsed.damagedBytes} bytes from there were copied to ${aside} and cut off`);
    }
    truncateSync(path, parsed.validBytes);
    const fd = openSync(path, 'r+');
    try { fdatasyncSync(fd); } finally { closeSync(fd); }
  }
  const state = new OutboxState();
  for (const rec of parsed.records) state.apply(rec as JournalRecord);
  state.interruptStarted(); // no run is in progress at open: a marker without an outcome is in doubt
  return { state, bytes: parsed.validBytes, fileBytes: damaged ? parsed.validBytes : buf.length, recovered: parsed.damagedBytes, existed };
}

/** A read-only look at an outbox (no lock, no repair): what the CLI lists while the server runs. */
export interface OutboxSnapshot {
  deadLetters: DeadLetter[];
  pending: number;
  dead: number;
  done: number;
  dropped: number;
  damagedTailBytes: number;
}

/**
 * Reads the journal without locking or changing it. Safe while the server runs: it may miss the
 * records of a flush in progress (seen as a damaged tail and ignored).
 *
 * @example
 * const { deadLetters } = inspectOutbox(join(dataDir, 'outbox'));
 */
export function inspectOutbox(dir: string): OutboxSnapshot {
  const { state, recovered } = loadJournal(dir, () => undefined, systemClock, false);
  const deadLetters: DeadLetter[] = [];
  for (const job of state.jobs.values()) if (job.status === 'dead') deadLetters.push({ ...jobView(job), deadAt: job.deadAt ?? 0 });
  deadLetters.sort((a, b) => a.deadAt - b.deadAt);
  const { pending, dead } = state.counts();
  return { deadLetters, pending, dead, done: state.done, dropped: state.dropped, damagedTailBytes: recovered };
}
