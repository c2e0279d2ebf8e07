/**
 * The conformance suite against our own server (`src/cli.ts serve`, in the runtime running this
 * test), strict: every case is a test, so node-test-github-reporter annotates failing cases on GitHub.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { allCases } from './cases/index.ts';
import { inRunOrder, openSession, runCase, type Session } from './harness.ts';
import { ownServerCommand } from './main.ts';
import { failureDetails } from './report/console.ts';
import { isDeno } from '../src/testing/runtime.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe(`conformance: our server under ${isDeno ? 'Deno' : 'Node'} (strict)`, { timeout: 180_000 }, () => {
  let session: Session | undefined;
  before(async () => {
    session = await openSession({ exec: ownServerCommand(isDeno ? 'deno' : 'node'), cwd: ROOT });
  });
  after(async () => { await session?.close(); });

  for (const c of inRunOrder(allCases)) {
    it(`${c.id} [${c.level}] ${c.title}`, { timeout: 40_000 }, async () => {
      assert.ok(session, 'the server did not start');
      const result = await runCase(session, c, { strict: true });
      // Exec mode can restart and read DATA_DIR, so nothing may be skipped either.
      assert.equal(result.verdict, 'pass', `${result.message ?? ''}\n${failureDetails(result)}`);
    });
  }
});
