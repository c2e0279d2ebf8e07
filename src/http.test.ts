import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyTooLargeError, readBody } from './http.ts';

const T = { timeout: 20_000 };

describe('readBody', () => {
  let server: Server | undefined;
  let started: Promise<void> = Promise.resolve();
  afterEach(async () => {
    server?.closeAllConnections?.();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** A server that reads each body with `limit` and reports the outcome through `results`. */
  async function start(limit: number, results: Array<Buffer | Error>): Promise<number> {
    let markStarted!: () => void;
    started = new Promise((resolve) => { markStarted = resolve; });
    server = createServer((req, res) => {
      markStarted();
      readBody(req, limit).then((body) => {
        results.push(body);
        res.end(String(body.length));
      }, (error: Error) => {
        results.push(error);
        if (!res.destroyed) res.writeHead(error instanceof BodyTooLargeError ? 413 : 400, { connection: 'close' }).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** Sends `parts` as a chunked body, one write each; `end: false` aborts after the last part instead. */
  function send(port: number, parts: Buffer[], end = true): Promise<number | undefined> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', () => resolve(undefined));
      for (const p of parts) req.write(p);
      if (end) req.end();
      else void started.then(() => req.destroy()); // once the server is reading this body

    });
  }

  it('returns the exact raw bytes of a multi-chunk body', T, async () => {
    const results: Array<Buffer | Error> = [];
    const port = await start(1 << 20, results);
    const parts = [Buffer.from('{"a":"héllo'), Buffer.from([0xe2, 0x9c]), Buffer.from([0x93, 0x22, 0x7d])];
    assert.equal(await send(port, parts), 200);
    assert.deepEqual(results[0], Buffer.concat(parts));
  });

  it('refuses a streamed body past the limit with BodyTooLargeError (413)', T, async () => {
    const results: Array<Buffer | Error> = [];
    const port = await start(100, results);
    assert.equal(await send(port, [Buffer.alloc(60, 1), Buffer.alloc(60, 2)]), 413);
    assert.ok(results[0] instanceof BodyTooLargeError);
  });

  it('rejects (does not hang) when the client goes away mid-body', T, async () => {
    const results: Array<Buffer | Error> = [];
    const port = await start(1 << 20, results);
    await send(port, [Buffer.alloc(10, 1)], false);
    for (let i = 0; i < 200 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(results[0] instanceof Error && !(results[0] instanceof BodyTooLargeError), String(results[0]));
  });
});
