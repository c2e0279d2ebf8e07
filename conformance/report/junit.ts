/**
 * JUnit XML report: one <testsuite> per area, one <testcase> per case; failures (and, in the default
 * profile, SHOULD warnings as <system-out>) carry the requirement, clause and wire evidence.
 *
 * @example
 * await writeFile('conformance.xml', junitReport(suite));
 */
import type { CaseResult, SuiteResult } from '../harness.ts';
import { failureDetails, resultsByArea } from './console.ts';

/** XML-escapes text (and drops characters XML 1.0 cannot carry). */
export function xmlEscape(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function testcase(r: CaseResult): string {
  const head = `    <testcase classname="conformance.${xmlEscape(r.area)}" name="${xmlEscape(`${r.id} [${r.level}] ${r.title}`)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
  const details = xmlEscape(failureDetails(r, true));
  switch (r.verdict) {
    case 'pass': return `${head}/>`;
    case 'skip': return `${head}>\n      <skipped message="${xmlEscape(r.message ?? 'skipped')}"/>\n    </testcase>`;
    case 'expected': return `${head}>\n      <skipped message="expected failure (baseline): ${xmlEscape(r.message ?? '')}"/>\n      <system-out>${details}</system-out>\n    </testcase>`;
    case 'warn': return `${head}>\n      <system-out>WARNING (SHOULD): ${details}</system-out>\n    </testcase>`;
    case 'unexpected-pass': return `${head}>\n      <failure message="listed in --expected-failures but passes: remove it from the baseline" type="unexpected-pass"/>\n    </testcase>`;
    case 'fail': return `${head}>\n      <failure message="${xmlEscape(r.message ?? 'failed')}" type="${r.level}">${details}</failure>\n    </testcase>`;
  }
}

/** The JUnit XML document. */
export function junitReport(suite: SuiteResult): string {
  const suites = [...resultsByArea(suite.results)].map(([area, rs]) => {
    const failures = rs.filter((r) => r.verdict === 'fail' || r.verdict === 'unexpected-pass').length;
    const skipped = rs.filter((r) => r.verdict === 'skip' || r.verdict === 'expected').length;
    const time = rs.reduce((t, r) => t + r.durationMs, 0) / 1000;
    return `  <testsuite name="conformance.${xmlEscape(area)}" tests="${rs.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time.toFixed(3)}">\n${rs.map(testcase).join('\n')}\n  </testsuite>`;
  });
  const failures = suite.counts.fail + suite.counts['unexpected-pass'];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sentry-integration-kit conformance" tests="${suite.results.length}" failures="${failures}" time="${(suite.durationMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
