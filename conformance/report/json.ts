/**
 * JSON report: the whole suite with every case's clause, verdict and (for failures) the evidence.
 *
 * @example
 * await writeFile('conformance.json', jsonReport(suite, { target: 'exec: node app.mjs' }));
 */
import type { SuiteResult } from '../harness.ts';

/** Serialises the suite (secrets were already redacted by the runner). */
export function jsonReport(suite: SuiteResult, meta: Record<string, unknown> = {}): string {
  return `${JSON.stringify({
    tool: 'sentry-integration-kit conformance', version: 1, generatedAt: new Date().toISOString(), ...meta,
    strict: suite.strict, exitCode: suite.exitCode, durationMs: suite.durationMs, counts: suite.counts,
    results: suite.results,
  }, null, 2)}\n`;
}
