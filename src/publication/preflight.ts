/**
 * App-configuration preflight: reads a JSON file shaped like the body of Sentry's create-app API (plus
 * `logo` and `icon` paths relative to it) and checks what Sentry's parser and its reviewers check.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { checkImage, type ImageReport } from '../images/check.ts';
import type { ImageKind } from '../images/findings.ts';
import { checkPublicHttpsUrl } from './address.ts';
import { DOCS, EVENT_SCOPES, ICON_COMPONENTS, KNOWN_SCOPES, MAX_NAME_LENGTH } from './rules.ts';
import { schemaElementTypes, validateUiSchema } from './schema.ts';

/** One configuration finding. */
export interface ConfigFinding {
  severity: 'error' | 'warning';
  /** Stable machine code. */
  code: string;
  /** The rule, in plain words. */
  rule: string;
  /** The configuration field it is about (dotted path). */
  field: string;
  /** What exactly is wrong here. */
  message: string;
  /** Where the rule is documented (docs page or Sentry source). */
  doc: string;
}

/** The image report of a file referenced by the configuration. */
export interface ReferencedImage {
  path: string;
  kind: ImageKind;
  report: ImageReport;
}

/** The whole preflight outcome. */
export interface PreflightReport {
  path: string;
  ok: boolean;
  findings: ConfigFinding[];
  images: ReferencedImage[];
}

/** Options; the sets default to what Sentry accepts today (see rules.ts). */
export interface PreflightOptions {
  /** Directory that `logo`/`icon` paths are relative to (default: the JSON file's directory). */
  baseDir?: string;
  /** Scopes to accept in addition to `KNOWN_SCOPES` (Sentry adds scopes over time). */
  extraScopes?: string[];
  /** Overrides/extends the resource → required scope map (UNCONFIRMED entries live there). */
  eventScopes?: Record<string, string>;
}

const RULES: Record<string, { rule: string; doc: string }> = {
  'field-type': { rule: 'each field has the type Sentry\'s create-app API expects (name, slug, author, overview, logo, icon: strings; verifyInstall, isAlertable: booleans)', doc: DOCS.parser },
  'key-snake-case': { rule: 'keys are camelCase as in Sentry\'s create-app API (webhookUrl, not webhook_url); other spellings are ignored', doc: DOCS.parser },
  'name-missing': { rule: 'the integration needs a name', doc: DOCS.parser },
  'name-too-long': { rule: `the name is at most ${MAX_NAME_LENGTH} characters`, doc: DOCS.parser },
  'author-missing': { rule: 'public integrations need an author', doc: DOCS.parser },
  'overview-missing': { rule: 'public integrations need an overview describing what the integration does', doc: DOCS.publicIntegration },
  'webhook-missing': { rule: 'public integrations need a webhook URL', doc: DOCS.parser },
  'url-invalid': { rule: 'URLs must be absolute', doc: DOCS.parser },
  'url-not-https': { rule: 'URLs Sentry calls or sends users to must use https', doc: DOCS.publicIntegration },
  'url-not-public': { rule: 'URLs must name a public host, not localhost, a private, link-local or reserved address', doc: DOCS.publicIntegration },
  'url-credentials': { rule: 'URLs must not carry credentials', doc: DOCS.publicIntegration },
  'redirect-required': { rule: 'a redirect URL is needed when Verify Installation is on (the install is completed from your redirect/setup page)', doc: DOCS.publicIntegration },
  'scopes-invalid': { rule: 'scopes is a list of permission strings', doc: DOCS.permissions },
  'scope-unknown': { rule: 'scopes must come from Sentry\'s known set', doc: DOCS.permissions },
  'events-invalid': { rule: 'events is a list of resource names', doc: DOCS.webhooks },
  'event-unknown': { rule: 'webhook subscriptions must be resources Sentry offers', doc: DOCS.webhooks },
  'event-scope-missing': { rule: 'each webhook subscription needs the scope that reads it (issue, error, comment → event:read)', doc: DOCS.parser },
  'origins-invalid': { rule: 'allowedOrigins is a list of origins', doc: DOCS.authorizedOrigins },
  'origin-wildcard': { rule: 'allowed origins cannot use wildcards; list each subdomain', doc: DOCS.authorizedOrigins },
  'origin-protocol': { rule: 'allowed origins are written without a protocol (e.g. example.com)', doc: DOCS.authorizedOrigins },
  'origin-multiple': { rule: 'one origin per line (per list entry)', doc: DOCS.authorizedOrigins },
  'origin-path': { rule: 'an origin is a host (and optional port), without a path', doc: DOCS.authorizedOrigins },
  'schema-invalid': { rule: 'the UI-component schema must be well-formed', doc: DOCS.uiComponents },
  'logo-missing': { rule: 'a logo is required to publish', doc: DOCS.imageRequirements },
  'icon-missing': { rule: 'an icon is required when the schema has issue-link or stacktrace-link', doc: DOCS.imageRequirements },
  'image-unreadable': { rule: 'logo and icon paths must point to readable files', doc: DOCS.imageRequirements },
  'image-fails-checks': { rule: 'the logo and icon must pass the image checks', doc: DOCS.imageRequirements },
};

/** The plain-words rule and doc link of a configuration code. @example ruleFor('origin-wildcard').doc */
export function ruleFor(code: string): { rule: string; doc: string } {
  return RULES[code] ?? { rule: code, doc: DOCS.publicIntegration };
}

/** A problem reading the configuration itself (exit status 2). */
export class ConfigReadError extends Error {}

/**
 * Reads and parses the configuration JSON (a leading UTF-8 byte-order mark is ignored); throws
 * ConfigReadError when unreadable or not a JSON object.
 * @example const config = await loadAppConfig('app.json');
 */
export async function loadAppConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigReadError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  // Windows editors (Notepad's "UTF-8 with BOM") start the file with U+FEFF, which JSON.parse rejects.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigReadError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigReadError(`${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}

const isBlank = (v: unknown): boolean => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** "a number", "an object", "an array", "null" — for type-error messages. */
function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v} (${JSON.stringify(v)})`;
}

/** Strings Django REST framework's BooleanField reads as true (Sentry's parser would coerce them). */
const DRF_TRUE: ReadonlySet<unknown> = new Set(['t', 'T', 'y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON', '1', 1]);

/** The keys the preflight reads (Sentry's create-app body plus logo/icon). */
const KNOWN_KEYS = ['name', 'slug', 'author', 'overview', 'webhookUrl', 'redirectUrl', 'verifyInstall', 'isAlertable', 'scopes', 'events', 'allowedOrigins', 'schema', 'logo', 'icon'] as const;

/** `webhookUrl` → `webhook_url`. */
const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const STRING_FIELDS = ['name', 'slug', 'author', 'overview', 'logo', 'icon'] as const;
const BOOLEAN_FIELDS = ['verifyInstall', 'isAlertable'] as const;

function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
  return value as string[];
}

/**
 * Checks a parsed configuration (no file access except the logo/icon it names).
 * @example const report = await checkAppConfig(await loadAppConfig('app.json'), 'app.json');
 */
export async function checkAppConfig(config: Record<string, unknown>, path: string, options: PreflightOptions = {}): Promise<PreflightReport> {
  const findings: ConfigFinding[] = [];
  const add = (severity: ConfigFinding['severity'], code: string, field: string, message: string): void => {
    findings.push({ severity, code, field, message, ...ruleFor(code) });
  };

  // Sentry's API reads camelCase keys only: a snake_case spelling is silently ignored there, and here it
  // would only surface as "webhookUrl is missing" without saying why.
  for (const key of Object.keys(config)) {
    const meant = KNOWN_KEYS.find((k) => k !== key && snakeCase(k) === key);
    if (meant) add('warning', 'key-snake-case', key, `"${key}" is not read (keys are camelCase): did you mean ${meant}?`);
  }

  // A wrong type is its own finding; without it {"a":1} passed as the name "[object Object]".
  const wrongType = new Set<string>();
  for (const field of STRING_FIELDS) {
    const value = config[field];
    if (value === undefined || value === null || typeof value === 'string') continue;
    wrongType.add(field);
    add('error', 'field-type', field, `${field} must be a string, not ${describeType(value)}`);
  }
  for (const field of BOOLEAN_FIELDS) {
    const value = config[field];
    if (value === undefined || typeof value === 'boolean') continue;
    wrongType.add(field);
    add('error', 'field-type', field, `${field} must be a boolean (true or false), not ${describeType(value)}`);
  }

  if (wrongType.has('name')) {
    // reported above
  } else if (isBlank(config.name)) add('error', 'name-missing', 'name', 'name is missing');
  // Sentry counts characters as Python's len() does: code points, so an emoji is one, not two UTF-16 units.
  else if ([...String(config.name)].length > MAX_NAME_LENGTH) add('error', 'name-too-long', 'name', `name is ${[...String(config.name)].length} characters`);
  if (!wrongType.has('author') && isBlank(config.author)) add('error', 'author-missing', 'author', 'author is missing (Sentry: "author required for public integrations")');
  if (!wrongType.has('overview') && isBlank(config.overview)) add('error', 'overview-missing', 'overview', 'overview is missing or empty');

  for (const field of ['webhookUrl', 'redirectUrl'] as const) {
    const value = config[field];
    if (isBlank(value)) continue;
    if (typeof value !== 'string') {
      add('error', 'url-invalid', field, `${field} must be a string`);
      continue;
    }
    for (const p of checkPublicHttpsUrl(value)) add(p.severity, p.code, field, `${value}: ${p.message}`);
  }
  if (isBlank(config.webhookUrl)) add('error', 'webhook-missing', 'webhookUrl', 'webhookUrl is missing (Sentry: "webhookUrl required for public integrations")');
  // Sentry's parser defaults verifyInstall to true when it is absent, and (a DRF BooleanField) reads
  // "true"/"1"/… as true: judge the redirect by that, beside the field-type finding.
  const verifyInstall = config.verifyInstall === undefined ? true : DRF_TRUE.has(config.verifyInstall) || config.verifyInstall === true;
  if (verifyInstall && isBlank(config.redirectUrl)) {
    add('error', 'redirect-required', 'redirectUrl', `verifyInstall is ${config.verifyInstall === undefined ? 'on by default' : JSON.stringify(config.verifyInstall)} but redirectUrl is missing`);
  }

  const known = new Set([...KNOWN_SCOPES, ...(options.extraScopes ?? [])]);
  const scopes = stringList(config.scopes);
  if (!scopes) add('error', 'scopes-invalid', 'scopes', 'scopes must be an array of strings');
  else scopes.forEach((s, i) => { if (!known.has(s)) add('error', 'scope-unknown', `scopes[${i}]`, `"${s}" is not a valid scope`); });

  const eventScopes = { ...EVENT_SCOPES, ...(options.eventScopes ?? {}) };
  const events = stringList(config.events);
  if (!events) add('error', 'events-invalid', 'events', 'events must be an array of resource names');
  else {
    events.forEach((e, i) => {
      const needed = eventScopes[e];
      if (!needed) add('error', 'event-unknown', `events[${i}]`, `"${e}" is not a webhook resource (valid: ${Object.keys(eventScopes).join(', ')})`);
      else if (!(scopes ?? []).includes(needed)) add('error', 'event-scope-missing', `events[${i}]`, `${e} webhooks require the ${needed} permission`);
    });
  }

  checkOrigins(config.allowedOrigins, add);

  for (const p of validateUiSchema(config.schema)) add('error', 'schema-invalid', p.path, p.message);

  const baseDir = options.baseDir ?? dirname(resolve(path));
  const images: ReferencedImage[] = [];
  const needsIcon = schemaElementTypes(config.schema).some((t) => ICON_COMPONENTS.includes(t));
  for (const kind of ['logo', 'icon'] as const) {
    const value = config[kind];
    if (wrongType.has(kind)) continue;
    if (isBlank(value)) {
      if (kind === 'logo') add('error', 'logo-missing', 'logo', 'no logo file given (a logo is required to publish: "Must upload a logo for the integration.")');
      else if (needsIcon) add('error', 'icon-missing', 'icon', 'the schema has issue-link or stacktrace-link but no icon file is given ("Must upload an icon for issue and stack trace linking integrations.")');
      continue;
    }
    const file = resolve(baseDir, String(value));
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      add('error', 'image-unreadable', kind, `cannot read ${String(value)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      continue;
    }
    const report = checkImage(bytes, kind);
    images.push({ path: String(value), kind, report });
    if (!report.ok) add('error', 'image-fails-checks', kind, `${String(value)} fails the ${kind} checks: ${report.errors.map((e) => e.code).join(', ')}`);
  }

  return { path, ok: !findings.some((f) => f.severity === 'error'), findings, images };
}

function checkOrigins(value: unknown, add: (s: ConfigFinding['severity'], code: string, field: string, message: string) => void): void {
  // The UI takes a newline-separated text; the API a list. Accept both shapes.
  const list = typeof value === 'string' ? value.split('\n') : stringList(value);
  if (!list) {
    add('error', 'origins-invalid', 'allowedOrigins', 'allowedOrigins must be an array of strings');
    return;
  }
  list.forEach((raw, i) => {
    const field = `allowedOrigins[${i}]`;
    const origin = raw.trim();
    if (origin === '') return;
    if (origin.includes('*')) add('error', 'origin-wildcard', field, `"${origin}" uses a wildcard (Sentry: "'*' not allowed in origin")`);
    if (/[\s,;]/.test(origin)) {
      add('error', 'origin-multiple', field, `"${origin}" holds more than one origin; put each on its own line`);
      return;
    }
    const withoutScheme = origin.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
    if (withoutScheme !== origin) add('warning', 'origin-protocol', field, `"${origin}" includes a protocol; write "${withoutScheme.replace(/\/$/, '')}" (without one, any scheme matches)`);
    if (/\/./.test(withoutScheme) || (withoutScheme.endsWith('/') && withoutScheme === origin)) add('error', 'origin-path', field, `"${origin}" has a path; an origin is only host[:port]`);
  });
}
