/**
 * Crash-test child (not a test file): opens the outbox in argv[2], enqueues keys k<start>..k<start+count-1>
 * eight at a time and runs a worker, printing one line per fact only once it is true on disk:
 *
 *   O                      opened (journal replayed)
 *   E <index> <id> <0|1>   enqueue of k<index> resolved (durable), 1 = duplicate of an earlier enqueue
 *   R <id>                 the handler started on a job
 *   A <id>                 the job's ack is durable
 *
 * The parent SIGKILLs it at random points. Every seventh job fails its first attempt to exercise retries;
 * a tiny compaction threshold makes kills land mid-compaction too.
 */
import { openOutbox } from '../outbox.ts';

const [dir, startArg, countArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: crash-child.ts DIR START COUNT');
const start = Number(startArg ?? 0);
const count = Number(countArg ?? 100);
// Pipes are written synchronously on Linux, so a line is out before the next step happens.
const say = (line: string) => process.stdout.write(`${line}\n`);

const outbox = await openOutbox({ dir, compactAtBytes: 4096, retry: { minMs: 1, maxMs: 5, jitter: 0, maxAttempts: 50 } });
say('O');
outbox.run((job) => {
  say(`R ${job.id}`);
  const n = job.payload as number;
  if (n % 7 === 0 && job.attempts === 0) throw new Error('first attempt fails');
  return { outcome: 'done' };
}, { concurrency: 4, onSettled: (job, s) => { if (s.outcome === 'done') say(`A ${job.id}`); } });

let next = start;
async function producer(): Promise<void> {
  while (next < start + count) {
    const n = next++;
    const { id, duplicate } = await outbox.enqueue({ key: `k${n}`, group: `g${n % 5}`, payload: n });
    say(`E ${n} ${id} ${duplicate ? 1 : 0}`);
  }
}
await Promise.all(Array.from({ length: 8 }, producer));
say('D');
// Stay alive until killed, even with nothing due.
setInterval(() => undefined, 60_000);
