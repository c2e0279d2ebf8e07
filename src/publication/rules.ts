/**
 * What Sentry accepts in an app configuration, with sources. Sets that change over time (scopes, webhook
 * resources) can be extended through `PreflightOptions`.
 */

/** Doc and source references the findings point to. */
export const DOCS = {
  publicIntegration: 'https://docs.sentry.io/organization/integrations/integration-platform/public-integration/',
  permissions: 'https://docs.sentry.io/organization/integrations/integration-platform/#permissions',
  webhooks: 'https://docs.sentry.io/organization/integrations/integration-platform/webhooks/',
  uiComponents: 'https://docs.sentry.io/organization/integrations/integration-platform/ui-components/',
  authorizedOrigins: 'https://docs.sentry.io/organization/integrations/integration-platform/public-integration/#authorized-origins',
  imageRequirements: 'https://docs.sentry.io/organization/integrations/integration-platform/public-integration/#image-requirements',
  parser: 'https://github.com/getsentry/sentry/blob/master/src/sentry/sentry_apps/api/parsers/sentry_app.py',
  schema: 'https://github.com/getsentry/sentry/blob/master/src/sentry/sentry_apps/api/parsers/schema.py',
  publishRequest: 'https://github.com/getsentry/sentry/blob/master/src/sentry/sentry_apps/api/endpoints/sentry_app_publish_request.py',
} as const;

/**
 * Sentry's API scopes (`ApiScopes`, getsentry/sentry:src/sentry/models/apiscopes.py). The parser rejects
 * any other value with "<scope> not a valid scope".
 */
export const KNOWN_SCOPES: readonly string[] = [
  'project:read', 'project:write', 'project:admin', 'project:releases',
  'team:read', 'team:write', 'team:admin',
  'event:read', 'event:write', 'event:admin',
  'org:read', 'org:write', 'org:integrations', 'org:admin',
  'member:read', 'member:write', 'member:admin', 'member:invite',
  'alerts:read', 'alerts:write',
];

/**
 * Webhook resources an app may subscribe to, and the scope each needs. issue/error/comment → event:read is
 * `REQUIRED_EVENT_PERMISSIONS` in getsentry/sentry:src/sentry/sentry_apps/models/sentry_app.py, enforced by
 * `SentryAppParser.validate` ("<resource> webhooks require the <scope> permission.", an exact membership
 * test: event:write alone does not satisfy event:read). seer and preprod_artifact are valid resources
 * (`VALID_EVENT_RESOURCES`, src/sentry/sentry_apps/utils/webhooks.py) but their required scope was not
 * found in source: event:read and project:read are UNCONFIRMED guesses (override with options.eventScopes).
 */
export const EVENT_SCOPES: Readonly<Record<string, string>> = {
  issue: 'event:read',
  error: 'event:read',
  comment: 'event:read',
  seer: 'event:read',
  preprod_artifact: 'project:read',
};

/** Schema elements that make an icon mandatory at publish time (`COMPONENT_TYPES`). */
export const ICON_COMPONENTS: readonly string[] = ['issue-link', 'stacktrace-link'];

/** Longest app name Sentry accepts: 64 − 6 (uuid part of the slug) − 1. */
export const MAX_NAME_LENGTH = 57;
