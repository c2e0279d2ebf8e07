/**
 * Child process for the two-process refresh test: a token manager on a shared DATA_DIR, driven over
 * stdin (`advance <ms>` moves its clock like the emulator's; `hammer <n>` runs n concurrent API calls).
 * Answers one line per command on stdout.
 */
import { createInterface } from 'node:readline';
import { offsetClock } from '../clock.ts';
import { openFileStore } from '../store/file.ts';
import { createSentryApi } from './api.ts';
import { createTokenManager } from './tokens.ts';

const env = process.env;
const clock = offsetClock();
// The store keeps wall time: its lock ages are compared with file mtimes.
const store = await openFileStore({ dir: env.DATA_DIR!, onWarning: () => {} });
const api = createSentryApi({ baseUrl: env.SENTRY_URL!, clientId: env.CLIENT_ID!, clientSecret: env.CLIENT_SECRET!, clock });
const tokens = createTokenManager({ store, api, clock, skewMs: 5 * 60_000 });
const id = env.INSTALLATION!;

process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(' ');
  if (command === 'advance') {
    clock.advance(Number(arg));
    process.stdout.write('ok\n');
  } else if (command === 'hammer') {
    const results = await Promise.allSettled(
      Array.from({ length: Number(arg) }, () => tokens.withToken(id, (t) => api.getOrganization(t, env.ORG!))),
    );
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.message));
    process.stdout.write(`done ${results.length - failed.length} ${JSON.stringify(failed)}\n`);
  } else if (command === 'exit') {
    break;
  }
}
await store.close();
process.exit(0);
