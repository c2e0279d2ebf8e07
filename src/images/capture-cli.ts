/**
 * Test helper: runs a command module's `run(args)` in-process and captures what it prints, so CLI tests
 * assert on exit status and output without a child process per case.
 */
import { mock } from 'node:test';

/**
 * Runs `run(args)` with console.log/error captured (mocks restored afterwards).
 * @example const { status, out } = await captureRun(run, ['--icon', 'icon.png', '--json']);
 */
export async function captureRun(run: (args: string[]) => Promise<number>, args: string[]): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  mock.method(console, 'log', (...a: unknown[]) => { out.push(a.join(' ')); });
  mock.method(console, 'error', (...a: unknown[]) => { err.push(a.join(' ')); });
  try {
    return { status: await run(args), out: out.join('\n'), err: err.join('\n') };
  } finally {
    mock.restoreAll();
  }
}
