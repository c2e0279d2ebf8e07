/**
 * The outbox's durable state as a pure state machine: journal records in, jobs / dedupe index / counters out.
 * The same `apply` runs when a journal is replayed at open and after each record is made durable, so what a
 * running outbox believes and what a restarted one rebuilds cannot drift apart.
 */

/** A job as stored: opaque payload plus bookkeeping. */
export interface JobState {
  id: string;
  key: string;
  group: string;
  payload: unknown;
  enqueuedAt: number;
  /** Epoch ms before which the job is not run. */
  due: number;
  /** Attempts that ended in retry or dead (an attempt cut short by a crash is not counted). */
  attempts: number;
  lastError?: string;
  status: 'pending' | 'dead';
  deadAt?: number;
  /**
   * Set by a `start` record: the current run said it is about to perform its non-idempotent side effect
   * (epoch ms). Cleared by the run's outcome. Still set when the journal is reopened means the run was cut
   * short in between: `interruptStarted` turns it into one more `inDoubt`.
   */
  started?: number;
  /**
   * Earlier runs that started their side effect and never recorded an outcome (a crash, or a stop, between
   * `markStarted` and the outcome): the effect may or may not have happened. Cleared by an outcome of a run
   * that itself called `markStarted` (the handler has dealt with the doubt), or by a replay.
   */
  inDoubt?: number;
}

/** A dedupe entry: the job a key was enqueued as, and how that job ended (absent while it is live). */
export interface KeyEntry {
  id: string;
  at: number;
  end?: 'done' | 'dropped';
}

/** The journal's record types (see docs/outbox.md). */
export type JournalRecord =
  | { t: 'enq'; id: string; key: string; group: string; payload: unknown; at: number }
  | { t: 'ack'; id: string; at: number }
  /** `inDoubt`: the count the job keeps (absent = 0; see {@link JobState.inDoubt}). */
  | { t: 'retry'; id: string; attempts: number; due: number; error: string; inDoubt?: number }
  | { t: 'dead'; id: string; attempts: number; error: string; at: number; inDoubt?: number }
  /** The run of job `id` is about to perform its side effect (`markStarted`). */
  | { t: 'start'; id: string; at: number }
  | { t: 'drop'; group: string; at: number }
  | { t: 'replay'; id: string; at: number }
  | { t: 'meta'; v: 1; done: number; dropped: number }
  | { t: 'key'; key: string; id: string; at: number; end?: 'done' | 'dropped' }
  | ({ t: 'job' } & JobState);

/** `job` with its in-doubt count set to `n` and its start marker cleared (an outcome was recorded). */
function withDoubt(job: JobState, n: number | undefined): JobState {
  const { started: _s, inDoubt: _i, ...rest } = job;
  return n ? { ...rest, inDoubt: n } : rest;
}

/** `job` after a run that called `markStarted` ended without an outcome. */
function interrupted(job: JobState): JobState {
  return withDoubt(job, (job.inDoubt ?? 0) + 1);
}

interface HeapEntry { due: number; seq: number; id: string; version: number }

/** A min-heap ordered by (due, seq): the next job to run is always at the top. */
class DueHeap {
  private items: HeapEntry[] = [];
  private less(a: HeapEntry, b: HeapEntry): boolean { return a.due < b.due || (a.due === b.due && a.seq < b.seq); }
  get size(): number { return this.items.length; }
  peek(): HeapEntry | undefined { return this.items[0]; }
  push(e: HeapEntry): void {
    const a = this.items;
    a.push(e);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Live jobs, dead letters, the dedupe index and lifetime counters.
 *
 * @example
 * const s = new OutboxState();
 * s.apply({ t: 'enq', id: 'j1', key: 'k', group: 'g', payload: {}, at: 0 });
 * s.takeDue(0)?.id // 'j1'
 */
export class OutboxState {
  readonly jobs = new Map<string, JobState>();
  readonly keys = new Map<string, KeyEntry>();
  done = 0;
  dropped = 0;
  /** Records of a type this version does not know (written by a newer version): skipped, counted. */
  unknownRecords = 0;
  private heap = new DueHeap();
  private seqs = new Map<string, { seq: number; version: number }>();
  private nextSeq = 0;

  /**
   * Applies one journal record; returns how many jobs it changed. Records about jobs that no longer exist
   * are ignored and return 0 (e.g. an ack written for a job whose group was dropped meanwhile).
   */
  apply(rec: JournalRecord): number {
    switch (rec.t) {
      case 'enq':
        this.keys.set(rec.key, { id: rec.id, at: rec.at });
        this.putJob({ id: rec.id, key: rec.key, group: rec.group, payload: rec.payload, enqueuedAt: rec.at, due: rec.at, attempts: 0, status: 'pending' });
        return 1;
      case 'job': {
        const { t: _t, ...job } = rec;
        this.putJob(job);
        return 1;
      }
      case 'key':
        this.keys.set(rec.key, rec.end ? { id: rec.id, at: rec.at, end: rec.end } : { id: rec.id, at: rec.at });
        return 0;
      case 'meta':
        this.done = rec.done;
        this.dropped = rec.dropped;
        return 0;
      case 'ack': {
        const job = this.jobs.get(rec.id);
        if (!job) return 0;
        this.endJob(job, 'done');
        this.done++;
        return 1;
      }
      case 'retry': {
        const job = this.jobs.get(rec.id);
        if (!job || job.status !== 'pending') return 0;
        this.putJob(withDoubt({ ...job, attempts: rec.attempts, due: rec.due, lastError: rec.error }, rec.inDoubt));
        return 1;
      }
      case 'dead': {
        const job = this.jobs.get(rec.id);
        if (!job) return 0;
        this.putJob(withDoubt({ ...job, status: 'dead', attempts: rec.attempts, lastError: rec.error, deadAt: rec.at }, rec.inDoubt));
        return 1;
      }
      case 'start': {
        const job = this.jobs.get(rec.id);
        if (!job || job.status !== 'pending') return 0;
        // A marker still set from an earlier run means that run ended without an outcome: one more doubt.
        // (A running outbox clears it before the next run; only a replayed journal gets here with one.)
        const next = job.started === undefined ? { ...job } : interrupted(job);
        next.started = rec.at;
        // Not putJob: the job is running (taken off the queue), and a marker changes nothing about when it
        // runs. Replaying a journal, its queue entry stays valid (same due, same version).
        this.jobs.set(next.id, next);
        return 1;
      }
      case 'replay': {
        const job = this.jobs.get(rec.id);
        if (!job || job.status !== 'dead') return 0;
        // The operator asks for the job to run again: whatever doubt it carried is theirs to have weighed.
        const { deadAt: _d, inDoubt: _i, ...rest } = job;
        this.putJob({ ...rest, status: 'pending', attempts: 0, due: rec.at });
        return 1;
      }
      case 'drop': {
        let n = 0;
        for (const job of [...this.jobs.values()]) {
          if (job.group !== rec.group) continue;
          this.endJob(job, 'dropped');
          n++;
        }
        this.dropped += n;
        return n;
      }
      default:
        this.unknownRecords++;
        return 0;
    }
  }

  private putJob(job: JobState): void {
    this.jobs.set(job.id, job);
    const prev = this.seqs.get(job.id);
    const entry = { seq: prev?.seq ?? this.nextSeq++, version: (prev?.version ?? 0) + 1 };
    this.seqs.set(job.id, entry);
    if (job.status === 'pending') this.heap.push({ due: job.due, seq: entry.seq, id: job.id, version: entry.version });
  }

  private endJob(job: JobState, end: 'done' | 'dropped'): void {
    this.jobs.delete(job.id);
    this.seqs.delete(job.id);
    const entry = this.keys.get(job.key);
    if (entry?.id === job.id) this.keys.set(job.key, { ...entry, end });
  }

  /** Drops heap entries that no longer describe a pending job, so the top is real. */
  private cleanTop(): HeapEntry | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      const job = this.jobs.get(top.id);
      if (job && job.status === 'pending' && this.seqs.get(top.id)?.version === top.version) return top;
      this.heap.pop();
    }
    return undefined;
  }

  /**
   * Removes and returns the earliest pending job due at `now`. A taken job stays in `jobs` but leaves the
   * queue until its outcome is applied (or `requeue`), so it cannot be handed out twice.
   */
  takeDue(now: number): JobState | undefined {
    const top = this.cleanTop();
    if (!top || top.due > now) return undefined;
    this.heap.pop();
    return this.jobs.get(top.id);
  }

  /**
   * Puts a job taken with `takeDue` back in the queue (its run was abandoned, e.g. on stop). A run that had
   * called `markStarted` leaves the job in doubt, exactly as a reopen of the journal would see it.
   */
  requeue(id: string): void {
    const job = this.jobs.get(id);
    if (job?.status === 'pending') this.putJob(job.started === undefined ? job : interrupted(job));
  }

  /**
   * Turns every start marker without an outcome into one more `inDoubt` (see {@link JobState.started}).
   * Called once after a journal is replayed at open, when no run can be in progress.
   */
  interruptStarted(): void {
    for (const job of [...this.jobs.values()]) if (job.started !== undefined) this.putJob(interrupted(job));
  }

  /** The earliest due time among queued jobs, or undefined when none are queued. */
  nextDue(): number | undefined {
    return this.cleanTop()?.due;
  }

  /** The dedupe entry for `key` if it still counts at `now` (live job, or ended within `windowMs`). */
  lookupKey(key: string, now: number, windowMs: number): KeyEntry | undefined {
    const entry = this.keys.get(key);
    if (!entry) return undefined;
    if (entry.end && entry.at + windowMs <= now) return undefined;
    return entry;
  }

  /** Forgets dedupe entries of ended jobs older than the window. */
  prune(now: number, windowMs: number): void {
    for (const [key, entry] of this.keys) if (entry.end && entry.at + windowMs <= now) this.keys.delete(key);
  }

  /** Counts for stats(). */
  counts(): { pending: number; dead: number } {
    let dead = 0;
    for (const job of this.jobs.values()) if (job.status === 'dead') dead++;
    return { pending: this.jobs.size - dead, dead };
  }

  /**
   * The records that rebuild this state from nothing (what compaction writes): counters, the dedupe entries
   * of ended jobs, then every live job in queue order.
   */
  snapshot(now: number, windowMs: number): JournalRecord[] {
    return [...snapshotRecords(this.capture(now, windowMs))];
  }

  /**
   * Captures the state for a snapshot in O(n) copying of references, no per-record work: compaction then
   * encodes it in slices while the outbox keeps appending. Safe because state objects are never mutated
   * in place (every change stores a new JobState / KeyEntry), so the captured ones stay as they were.
   */
  capture(now: number, windowMs: number): StateCapture {
    this.prune(now, windowMs);
    // `jobs` iterates in first-insertion order, which is the order seqs are handed out in (both are
    // assigned on a job's first putJob and removed together in endJob): queue order without a sort.
    return { done: this.done, dropped: this.dropped, keys: new Map(this.keys), jobs: [...this.jobs.values()] };
  }
}

/** The state as captured by {@link OutboxState.capture}. */
export interface StateCapture {
  done: number;
  dropped: number;
  keys: ReadonlyMap<string, KeyEntry>;
  jobs: readonly JobState[];
}

/**
 * The records of a captured state, lazily (see {@link OutboxState.snapshot} for the order).
 *
 * @example
 * for (const rec of snapshotRecords(state.capture(now, windowMs))) write(encodeRecordBytes(rec));
 */
export function* snapshotRecords(c: StateCapture): Generator<JournalRecord> {
  yield { t: 'meta', v: 1, done: c.done, dropped: c.dropped };
  for (const [key, e] of c.keys) if (e.end) yield { t: 'key', key, ...e };
  for (const job of c.jobs) {
    yield { t: 'job', ...job };
    const e = c.keys.get(job.key);
    // A live job's key may point at it with its own enqueue time; `job` does not rebuild that entry.
    if (e && e.id === job.id) yield { t: 'key', key: job.key, id: e.id, at: e.at };
  }
}
