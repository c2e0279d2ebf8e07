/**
 * Typed errors of the emulator's TypeScript API, so callers can tell "Sentry would refuse this"
 * from a bug. The `/_emulator/` control API maps them to the status Sentry answers with.
 *
 * @example
 * try { await sentry.install({ org: 'other' }); } catch (e) { if (e instanceof InstallNotAllowedError) e.status; } // 404
 */

/**
 * Installing an unpublished app in an organization other than its owner (Sentry: "Unpublished apps
 * are visible and installable only in the organization that created them; other orgs get 404").
 */
export class InstallNotAllowedError extends Error {
  /** The HTTP status Sentry answers with. */
  readonly status = 404;
  readonly app: string;
  readonly org: string;
  readonly ownerOrg: string;

  constructor(app: string, org: string, ownerOrg: string) {
    super(`app ${app} is unpublished: only its owner organization ${ownerOrg} can install it, not ${org}`);
    this.name = 'InstallNotAllowedError';
    this.app = app;
    this.org = org;
    this.ownerOrg = ownerOrg;
  }
}
