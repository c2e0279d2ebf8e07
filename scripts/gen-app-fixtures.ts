/**
 * App-configuration fixtures for `preflight`: one good configuration and one bad one per rule, with the
 * codes each must produce. Written by gen-image-fixtures.ts (one generator run writes all fixtures).
 */

type App = Record<string, unknown>;

/** The good configuration every bad one is derived from. */
export const GOOD_APP: App = {
  name: 'Pushover Notifier',
  author: 'Example Ltd',
  overview: 'Sends a Pushover notification when an issue is created or resolved in Sentry.',
  webhookUrl: 'https://hooks.example.com/sentry/webhook',
  redirectUrl: 'https://hooks.example.com/sentry/setup',
  verifyInstall: true,
  isAlertable: false,
  scopes: ['event:read', 'org:read'],
  events: ['issue', 'comment'],
  allowedOrigins: ['hooks.example.com'],
  schema: {
    elements: [
      {
        type: 'issue-link',
        link: { uri: '/sentry/issues/link', required_fields: [{ type: 'text', name: 'ticket', label: 'Ticket', default: 'issue.title' }] },
        create: {
          uri: '/sentry/issues/create',
          required_fields: [{ type: 'select', name: 'priority', label: 'Priority', options: [['High', 'high'], ['Low', 'low']] }],
          optional_fields: [{ type: 'textarea', name: 'notes', label: 'Notes', default: 'issue.description' }],
        },
      },
      { type: 'stacktrace-link', uri: '/sentry/stacktrace' },
    ],
  },
  logo: '../images/logo-good.png',
  icon: '../images/icon-good.png',
};

/** Each bad fixture: a change to GOOD_APP, and the codes (errors, warnings) preflight must report. */
export const BAD_APPS: ReadonlyArray<{ name: string; change: App; remove?: string[]; errors: string[]; warnings?: string[] }> = [
  { name: 'bad-name-missing', change: {}, remove: ['name'], errors: ['name-missing'] },
  { name: 'bad-author-missing', change: { author: '' }, errors: ['author-missing'] },
  { name: 'bad-overview-missing', change: {}, remove: ['overview'], errors: ['overview-missing'] },
  { name: 'bad-webhook-missing', change: {}, remove: ['webhookUrl'], errors: ['webhook-missing'] },
  { name: 'bad-webhook-http', change: { webhookUrl: 'http://hooks.example.com/sentry/webhook' }, errors: ['url-not-https'] },
  { name: 'bad-webhook-localhost', change: { webhookUrl: 'https://localhost:3000/sentry/webhook' }, errors: ['url-not-public'] },
  { name: 'bad-webhook-private-ipv4', change: { webhookUrl: 'https://10.0.0.12/sentry/webhook' }, errors: ['url-not-public'] },
  { name: 'bad-webhook-link-local-ipv6', change: { webhookUrl: 'https://[fe80::1]/sentry/webhook' }, errors: ['url-not-public'] },
  { name: 'bad-redirect-private', change: { redirectUrl: 'https://192.168.1.20/setup' }, errors: ['url-not-public'] },
  { name: 'bad-redirect-missing', change: {}, remove: ['redirectUrl'], errors: ['redirect-required'] },
  { name: 'bad-scope-unknown', change: { scopes: ['event:read', 'org:read', 'issues:read'] }, errors: ['scope-unknown'] },
  { name: 'bad-event-without-scope', change: { scopes: ['org:read'] }, errors: ['event-scope-missing', 'event-scope-missing'] },
  { name: 'bad-event-unknown', change: { events: ['issue', 'project'] }, errors: ['event-unknown'] },
  { name: 'bad-origin-wildcard', change: { allowedOrigins: ['*.example.com'] }, errors: ['origin-wildcard'] },
  { name: 'bad-origin-multiple', change: { allowedOrigins: ['example.com, app.example.com'] }, errors: ['origin-multiple'] },
  { name: 'bad-origin-path', change: { allowedOrigins: ['example.com/app'] }, errors: ['origin-path'] },
  { name: 'warn-origin-protocol', change: { allowedOrigins: ['https://example.com'] }, errors: [], warnings: ['origin-protocol'] },
  { name: 'bad-schema-element-type', change: { schema: { elements: [{ type: 'issue-linker', uri: '/x' }] } }, remove: ['icon'], errors: ['schema-invalid'] },
  {
    name: 'bad-schema-missing-field', change: { schema: { elements: [{ type: 'issue-link', link: { uri: '/link', required_fields: [{ type: 'text', name: 't', label: 'T' }] } }] } },
    errors: ['schema-invalid'],
  },
  { name: 'bad-schema-uri', change: { schema: { elements: [{ type: 'stacktrace-link', uri: 'https://example.com/open' }] } }, errors: ['schema-invalid'] },
  { name: 'bad-logo-missing', change: {}, remove: ['logo'], errors: ['logo-missing'] },
  { name: 'bad-icon-missing', change: {}, remove: ['icon'], errors: ['icon-missing'] },
  { name: 'bad-icon-fails-checks', change: { icon: '../images/icon-cropper-near-black.png' }, errors: ['image-fails-checks'] },
  { name: 'bad-logo-unreadable', change: { logo: '../images/no-such-logo.png' }, errors: ['image-unreadable'] },
];

/** File name → JSON content for fixtures/apps/, including index.json. */
export function appFixtures(): Map<string, unknown> {
  const files = new Map<string, unknown>();
  files.set('good.json', GOOD_APP);
  const index: unknown[] = [{ file: 'good.json', exit: 0, errors: [], warnings: [] }];
  for (const bad of BAD_APPS) {
    const app: App = { ...GOOD_APP, ...bad.change };
    for (const key of bad.remove ?? []) delete app[key];
    files.set(`${bad.name}.json`, app);
    index.push({ file: `${bad.name}.json`, exit: bad.errors.length > 0 ? 1 : 0, errors: bad.errors, warnings: bad.warnings ?? [] });
  }
  files.set('index.json', {
    description: 'Generated by scripts/gen-image-fixtures.ts. For each configuration: the exit status of `preflight` and the finding codes it must report (in order).',
    files: index,
  });
  return files;
}
