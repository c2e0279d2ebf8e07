/**
 * Console report: one line per case (id, level, verdict, title), failures with Expected/Actual and
 * the wire evidence, then a summary by area.
 *
 * @example
 * console.log(caseLine(result)); console.log(summary(suite));
 */
import { countVerdicts, type CaseResult, type SuiteResult, type Verdict } from '../harness.ts';

const LABEL: Record<Verdict, string> = {
  pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP', expected: 'XFAIL', 'unexpected-pass': 'XPASS',
};

/** `TOK-004  SHOULD  PASS   title  (12 ms)` */
export function caseLine(r: CaseResult): string {
  const why = r.verdict === 'skip' && r.message ? `  — ${r.message}` : '';
  return `${r.id.padEnd(8)} ${r.level.padEnd(6)} ${LABEL[r.verdict].padEnd(5)}  ${r.title}  (${r.durationMs} ms)${why}`;
}

/** The failure block printed under a failing (or warning) case. */
export function failureDetails(r: CaseResult, verbose = false): string {
  if (r.passed || r.verdict === 'skip') return '';
  const lines = [
    `    requirement: ${r.requirement}`,
    `    clause:      ${r.clause.section} — ${r.clause.url}`,
    `    failure:     ${r.message ?? ''}`,
  ];
  if (r.expected) lines.push(`    expected:    ${indentRest(r.expected)}`);
  if (r.actual) lines.push(`    actual:      ${indentRest(r.actual)}`);
  const ev = r.evidence;
  if (ev) {
    for (const n of ev.notes) lines.push(`    note:        ${n}`);
    const target = verbose ? ev.target : ev.target.slice(-6);
    for (const e of target) {
      lines.push(`    → impl   ${e.method} ${e.path} → ${e.status ?? e.error ?? '?'} (${e.durationMs} ms)${e.responseBody ? ` ${oneLine(e.responseBody, 120)}` : ''}`);
    }
    const sentry = verbose ? ev.sentry : ev.sentry.slice(-8);
    for (const q of sentry) lines.push(`    ← sentry ${q.method} ${q.path} [${q.endpoint}] → ${q.status} ${oneLine(q.responseBody, 100)}`);
    for (const d of ev.deliveries.slice(-5)) {
      lines.push(`    ⇢ hook   ${d.resource}.${d.action}: ${d.attempts.map((a) => `${a.status} in ${a.durationMs} ms${a.error ? ` (${a.error})` : ''}`).join(', ')}`);
    }
    for (const p of ev.pushover.slice(-5)) lines.push(`    ← push   ${p.status} title=${oneLine(p.fields.title ?? '', 80)}`);
  }
  return lines.join('\n');
}

/** Multi-line values (e.g. a crashed process's output) stay under their label. */
function indentRest(text: string): string {
  return text.replace(/\n/g, `\n${' '.repeat(17)}`);
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Results grouped by area, areas in order of first appearance. */
export function resultsByArea(results: readonly CaseResult[]): Map<string, CaseResult[]> {
  const byArea = new Map<string, CaseResult[]>();
  for (const r of results) byArea.set(r.area, [...(byArea.get(r.area) ?? []), r]);
  return byArea;
}

/** Summary by area and overall. */
export function summary(suite: SuiteResult): string {
  const lines = ['', `area               pass fail warn skip xfail xpass`];
  for (const [area, results] of resultsByArea(suite.results)) {
    const c = countVerdicts(results);
    lines.push(`${area.padEnd(18)} ${pad(c.pass)} ${pad(c.fail)} ${pad(c.warn)} ${pad(c.skip)} ${pad(c.expected, 5)} ${pad(c['unexpected-pass'], 5)}`);
  }
  const c = suite.counts;
  lines.push('', `${suite.results.length} cases: ${c.pass} passed, ${c.fail} failed, ${c.warn} warnings, ${c.skip} skipped, ` +
    `${c.expected} expected failures, ${c['unexpected-pass']} unexpected passes — ${suite.strict ? 'strict' : 'default'} profile, ` +
    `${(suite.durationMs / 1000).toFixed(1)} s → ${suite.exitCode === 0 ? 'CONFORMANT' : 'NOT CONFORMANT'}`);
  if (c['unexpected-pass']) lines.push('XPASS: a case listed in --expected-failures now passes: remove it from the baseline.');
  return lines.join('\n');
}

function pad(n: number, width = 4): string {
  return String(n).padStart(width);
}

/**
 * Marks every line of a stream that arrives in chunks (the implementation's output under --verbose)
 * with `prefix`, also when a chunk ends or starts in the middle of a line.
 *
 * @example
 * const mark = lineMarker('  | ');
 * mark('a\nb'); // '  | a\n  | b'
 * mark('c\n');  // 'c\n' (the rest of line b)
 */
export function lineMarker(prefix: string): (chunk: string) => string {
  let atLineStart = true;
  return (chunk) => {
    if (!chunk) return '';
    const marked = (atLineStart ? prefix : '') + chunk.replace(/\n(?=[^])/g, `\n${prefix}`);
    atLineStart = chunk.endsWith('\n');
    return marked;
  };
}
