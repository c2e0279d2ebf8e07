/**
 * The webhook benchmark's floor: the least any server can do and still give Sentry an honest 2xx —
 * read the body, check its signature, parse it, build the job, frame it as a journal record and write
 * it durably (O_DSYNC into a preallocated file, group commit: one write in flight, everything that
 * arrives meanwhile goes in the next) before answering. No routing, logging, dedupe or queue state.
 * Its throughput against the bare server says what this machine gives a durable ack with nothing else;
 * ours against it says what our server's features (routing, logging, dedupe, queue state) cost.
 *
 * @example
 * const floor = await startFloorServer({ secret, dir });
 * // POST signed issue.created webhooks to floor.url …
 * await floor.close();
 */
import { closeSync, constants as fsConstants, openSync, write, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeRecordBytes } from '../outbox/journal.ts';
import { verify } from '../sentry/signature.ts';
import { jobFromWebhook } from './job.ts';

/** Options for {@link startFloorServer}. */
export interface FloorServerOptions {
  /** Client secret deliveries are signed with. */
  secret: string;
  /** Directory for the journal file (created inside it). */
  dir: string;
  /** 'fsync' (default): O_DSYNC writes; 'none': plain writes (for comparison with ours at the same setting). */
  durability?: 'fsync' | 'none';
}

/** Bytes of zeros written ahead, as ours preallocates (a durable write then changes no file metadata). */
const PREALLOCATE_BYTES = 64 * 1024 * 1024;

/** Starts the floor server on 127.0.0.1 (port 0). */
export async function startFloorServer(options: FloorServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const path = join(options.dir, 'floor-journal.log');
  writeFileSync(path, Buffer.alloc(PREALLOCATE_BYTES), { mode: 0o600 });
  const dsync = options.durability !== 'none' && fsConstants.O_DSYNC !== undefined;
  const fd = openSync(path, fsConstants.O_WRONLY | (dsync ? fsConstants.O_DSYNC : 0));
  let position = 0;
  let queue: Array<{ bytes: Buffer; done: () => void }> = [];
  let flushing = false;
  let drained: (() => void) | undefined;
  const flush = (): void => {
    if (queue.length === 0) {
      flushing = false;
      drained?.();
      return;
    }
    flushing = true;
    const batch = queue;
    queue = [];
    const buf = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((b) => b.bytes));
    // The file is preallocated far past what a benchmark writes, so a short write never happens here.
    write(fd, buf, 0, buf.length, position, (error) => {
      if (error) throw error;
      position += buf.length;
      for (const b of batch) b.done();
      setImmediate(flush);
    });
  };
  let seq = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const answer = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (!verify(options.secret, raw, req.headers['sentry-hook-signature'])) return answer(401, '{"error":"invalid signature"}');
      let parsed: ReturnType<typeof jobFromWebhook>;
      try {
        parsed = jobFromWebhook('issue', JSON.parse(raw.toString('utf8')), Date.now());
      } catch {
        return answer(400, '{"error":"malformed JSON"}');
      }
      if (!parsed.ok) return answer(400, '{"error":"invalid payload"}');
      const { job } = parsed;
      const bytes = encodeRecordBytes({ t: 'enq', id: String(seq++), key: job.key, group: job.installationId, payload: job, at: job.receivedAt });
      queue.push({ bytes, done: () => answer(200, '{"ok":true,"queued":true,"duplicate":false}') });
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => {
        // A write still in flight must finish before its descriptor goes.
        const closeFile = () => { closeSync(fd); resolve(); };
        if (flushing) drained = closeFile;
        else closeFile();
      });
    }),
  };
}
