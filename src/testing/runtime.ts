import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

declare const Deno: { execPath(): string } | undefined;

/** True when running under Deno (its Node compatibility layer), false under Node + tsx. */
export const isDeno: boolean = typeof Deno !== 'undefined';

/**
 * The command line that runs a TypeScript file in the runtime running us, so tests that start child
 * processes (crash tests, the server under conformance) exercise the same runtime as the parent.
 *
 * @example
 * const [cmd, ...args] = tsRunner('src/cli.ts'); spawn(cmd, [...args, 'serve']);
 */
export function tsRunner(file: string): string[] {
  if (isDeno && Deno) return [Deno.execPath(), 'run', '-A', file];
  return [process.execPath, '--enable-source-maps', '--import', 'tsx', file];
}

/** A fresh temp directory and a function that removes it. */
export async function tempDir(prefix = 'sik-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
