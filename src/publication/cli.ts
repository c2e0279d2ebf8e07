/**
 * `preflight app.json [--json]`: checks an app configuration (create-app body + logo/icon paths relative
 * to the file) before submitting for review.
 *
 * Exit status: 0 nothing fails (warnings allowed), 1 something fails, 2 usage error or app.json unreadable
 * / not a JSON object. A logo or icon path that cannot be read is a finding (status 1), not a usage error.
 */
import { parseArgs } from 'node:util';
import { formatVerdict, toVerdict, type FileVerdict } from '../images/cli.ts';
import { checkAppConfig, ConfigReadError, loadAppConfig, type ConfigFinding, type PreflightReport } from './preflight.ts';

const USAGE = `usage: preflight app.json [--json]
  app.json   Sentry create-app body (name, slug, author, overview, webhookUrl, redirectUrl, verifyInstall,
             isAlertable, scopes, events, allowedOrigins, schema) plus "logo"/"icon" paths relative to it
  --json     print {"files":[…],"config":{"path","ok","findings":[{severity,code,rule,field,message,doc}]}}
exit: 0 ok (warnings allowed), 1 something fails, 2 usage or unreadable app.json`;

/** The `--json` document. */
export interface PreflightJson {
  files: FileVerdict[];
  config: { path: string; ok: boolean; findings: ConfigFinding[] };
}

/** Projects a report onto the `--json` document. @example toJson(await checkAppConfig(cfg, 'app.json')) */
export function toJson(report: PreflightReport): PreflightJson {
  return {
    files: report.images.map((i) => toVerdict(i.path, i.report)),
    config: { path: report.path, ok: report.ok, findings: report.findings },
  };
}

/** Human lines: the configuration's findings, one per line, then each image's verdict. */
export function formatReport(report: PreflightReport): string[] {
  const warnings = report.findings.some((f) => f.severity === 'warning');
  return [
    `config ${report.path}: ${report.ok ? (warnings ? 'ok (with warnings)' : 'ok') : 'FAIL'}`,
    ...report.findings.map((f) => `  ${f.severity.padEnd(7)} ${f.field} ${f.code}: ${f.message} — rule: ${f.rule} (${f.doc})`),
    ...report.images.flatMap((i) => formatVerdict(toVerdict(i.path, i.report))),
  ];
}

/** Runs the command. @example await run(['app.json', '--json']) */
export async function run(args: string[]): Promise<number> {
  let parsed: { values: { json?: boolean; help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (error) {
    console.error(`preflight: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const [path, ...extra] = parsed.positionals;
  if (path === undefined || extra.length > 0) {
    console.error(`preflight: give exactly one app.json\n${USAGE}`);
    return 2;
  }
  let report: PreflightReport;
  try {
    report = await checkAppConfig(await loadAppConfig(path), path);
  } catch (error) {
    if (error instanceof ConfigReadError) {
      console.error(`preflight: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (parsed.values.json) console.log(JSON.stringify(toJson(report)));
  else console.log(formatReport(report).join('\n'));
  const imagesOk = report.images.every((i) => i.report.ok);
  return report.ok && imagesOk ? 0 : 1;
}
