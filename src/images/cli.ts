/**
 * `check-images [--logo FILE] [--icon FILE] [--fix] [--json]`
 *
 * Exit status: 0 when no file fails (warnings allowed), 1 when a file fails, 2 for usage errors or a file
 * that cannot be read. With --fix, a corrected copy is written beside each failing file as
 * `<name>.fixed.png`, re-checked and listed as its own entry; the status still describes the given files.
 * When logo and icon would share one output name, each gets its own (`<name>.logo.fixed.png`,
 * `<name>.icon.fixed.png`); a fix that would overwrite a given file is refused up front (exit 2).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkImage, type ImageReport } from './check.ts';
import type { ImageFinding, ImageKind } from './findings.ts';
import { fixImage } from './fix.ts';

const USAGE = `usage: check-images [--logo FILE] [--icon FILE] [--fix] [--json]
  --logo FILE   check FILE as the integration's logo (colour)
  --icon FILE   check FILE as the integration's icon (black + alpha)
  --fix         write FILE.fixed.png with mechanical corrections (RGBA black icon, square canvas, size);
                FILE.logo.fixed.png / FILE.icon.fixed.png when logo and icon would share one name
  --json        print {"files":[{path,kind,ok,errors,warnings}]}; with --fix also
                "fixes":[{path,kind,fixed,output,changes,reason}] (one per failing file)
  (at most one --logo and one --icon per run)
exit: 0 ok (warnings allowed), 1 a file fails, 2 usage or unreadable file`;

/** One file's verdict exactly as `--json` prints it. */
export interface FileVerdict {
  path: string;
  kind: ImageKind;
  ok: boolean;
  errors: ImageFinding[];
  warnings: ImageFinding[];
}

/**
 * What `--fix` did for one failing file, as `--json` prints it under `fixes` (only with `--fix`):
 * `output` and `changes` when a corrected copy was written (its verdict is the `files` entry with that
 * path), `reason` when the file could not be fixed mechanically.
 */
export interface FixOutcome {
  path: string;
  kind: ImageKind;
  fixed: boolean;
  output: string | null;
  changes: string[];
  reason: string | null;
}

/** Projects a report onto the JSON shape (no extra keys). @example toVerdict('logo.png', checkImage(b, 'logo')) */
export function toVerdict(path: string, report: ImageReport): FileVerdict {
  return {
    path,
    kind: report.kind,
    ok: report.ok,
    errors: report.errors.map(({ code, message }) => ({ code, message })),
    warnings: report.warnings.map(({ code, message }) => ({ code, message })),
  };
}

/** Human lines for one verdict: a header line, then one line per finding. */
export function formatVerdict(v: FileVerdict): string[] {
  return [
    `${v.kind} ${v.path}: ${v.ok ? (v.warnings.length ? 'ok (with warnings)' : 'ok') : 'FAIL'}`,
    ...v.errors.map((f) => `  error   ${f.code}: ${f.message}`),
    ...v.warnings.map((f) => `  warning ${f.code}: ${f.message}`),
  ];
}

/** `path/name.png` → `path/name.fixed.png`. */
export function fixedPath(path: string): string {
  return /\.png$/i.test(path) ? path.replace(/\.png$/i, '.fixed.png') : `${path}.fixed.png`;
}

/**
 * Where `--fix` writes each target's corrected copy: `NAME.fixed.png`, or `NAME.logo.fixed.png` /
 * `NAME.icon.fixed.png` when two targets would share one output (the same file given as logo and icon,
 * or `logo` and `logo.png`), so no fix overwrites another. Returns an error message instead when an
 * output would overwrite one of the given files.
 * @example fixOutputs([{ path: 'x.png', kind: 'logo' }, { path: 'x.png', kind: 'icon' }]) // ['x.logo.fixed.png', 'x.icon.fixed.png']
 */
export function fixOutputs(targets: ReadonlyArray<{ path: string; kind: ImageKind }>): string[] | { error: string } {
  const plain = targets.map((t) => fixedPath(t.path));
  const outs = targets.map((t, i) => {
    const shared = plain.some((o, j) => j !== i && resolve(o) === resolve(plain[i]!));
    return shared ? plain[i]!.replace(/\.fixed\.png$/, `.${t.kind}.fixed.png`) : plain[i]!;
  });
  for (const out of outs) {
    const input = targets.find((t) => resolve(t.path) === resolve(out));
    if (input) return { error: `--fix would write ${out} over the ${input.kind} you gave; rename that file first` };
  }
  return outs;
}

/** Runs the command. @example await run(['--icon', 'icon.png', '--json']) */
export async function run(args: string[]): Promise<number> {
  let values: { logo?: string[]; icon?: string[]; fix?: boolean; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { logo: { type: 'string', multiple: true }, icon: { type: 'string', multiple: true }, fix: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`check-images: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // parseArgs keeps only the last of a repeated option; an integration has one logo and one icon, so a
  // second one is a mistake to report, not a file to drop silently.
  for (const kind of ['logo', 'icon'] as const) {
    const given = values[kind] ?? [];
    if (given.length > 1) {
      console.error(`check-images: --${kind} given ${given.length} times (${given.join(', ')}); an integration has one ${kind}: check each file in its own run\n${USAGE}`);
      return 2;
    }
  }
  const targets: Array<{ path: string; kind: ImageKind }> = [];
  if (values.logo?.[0] !== undefined) targets.push({ path: values.logo[0], kind: 'logo' });
  if (values.icon?.[0] !== undefined) targets.push({ path: values.icon[0], kind: 'icon' });
  if (targets.length === 0) {
    console.error(`check-images: give --logo FILE and/or --icon FILE\n${USAGE}`);
    return 2;
  }
  const outputs = values.fix ? fixOutputs(targets) : [];
  if (!Array.isArray(outputs)) {
    console.error(`check-images: ${outputs.error}`);
    return 2;
  }
  const inputs: Array<{ path: string; kind: ImageKind; bytes: Uint8Array }> = [];
  for (const t of targets) {
    try {
      inputs.push({ ...t, bytes: await readFile(t.path) });
    } catch (error) {
      console.error(`check-images: cannot read ${t.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return 2;
    }
  }
  const files: FileVerdict[] = [];
  const fixes: FixOutcome[] = [];
  const notes: string[] = [];
  let failed = false;
  for (const [i, input] of inputs.entries()) {
    const verdict = toVerdict(input.path, checkImage(input.bytes, input.kind));
    files.push(verdict);
    if (!verdict.ok) failed = true;
    if (!values.fix || verdict.ok) continue;
    const result = fixImage(input.bytes, input.kind);
    if (!result.fixed) {
      fixes.push({ path: input.path, kind: input.kind, fixed: false, output: null, changes: [], reason: result.reason });
      notes.push(`  fix     ${input.path}: ${result.reason}`);
      continue;
    }
    const out = outputs[i]!;
    try {
      await writeFile(out, result.png);
    } catch (error) {
      console.error(`check-images: cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return 2;
    }
    const after = toVerdict(out, checkImage(result.png, input.kind));
    files.push(after);
    fixes.push({ path: input.path, kind: input.kind, fixed: true, output: out, changes: result.changes, reason: null });
    notes.push(`  fix     wrote ${out} (${after.ok ? 'passes' : 'still fails'}): ${result.changes.join('; ')}`);
  }
  if (values.json) console.log(JSON.stringify(values.fix ? { files, fixes } : { files }));
  else {
    for (const v of files) console.log(formatVerdict(v).join('\n'));
    for (const n of notes) console.log(n);
  }
  return failed ? 1 : 0;
}
