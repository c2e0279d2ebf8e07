import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { tempDir, tsRunner } from './testing/runtime.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOG_MODULE = pathToFileURL(fileURLToPath(new URL('./log.ts', import.meta.url))).href;

/** Runs a script that logs through the default stdout sink, returns the lines written. */
function run(dir: string): Record<string, unknown>[] {
  const [cmd, ...args] = tsRunner(join(dir, 'script.ts'));
  const result = spawnSync(cmd!, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(result.error, undefined);
  return result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('log: the default stdout sink', { timeout: 60_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => { dir = await tempDir('sik-log-stdout-'); });
  after(async () => { await dir.remove(); });

  const script = async (lines: string) => writeFile(join(dir.path, 'script.ts'),
    `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\nconst log = createLogger();\n${lines}\n`);

  it('a warning is written at once, with the info lines before it and in order, even if SIGKILL follows', async () => {
    await script(`log.info('first');\nlog.info('second');\nlog.warn('about to be killed');\nprocess.kill(process.pid, 'SIGKILL');`);
    assert.deepEqual(run(dir.path).map((l) => [l.level, l.msg]), [['info', 'first'], ['info', 'second'], ['warn', 'about to be killed']]);
  });

  it('info lines are batched, and whatever is pending is written when the process exits', async () => {
    await script(`log.info('a');\nlog.info('b');\nprocess.exit(0);`);
    assert.deepEqual(run(dir.path).map((l) => l.msg), ['a', 'b']);
  });
});
