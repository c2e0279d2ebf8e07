/**
 * `emulator` command: starts the Sentry emulator (and the Pushover emulator) standalone, prints the
 * URLs, the generated app credentials and how to drive it, and runs until SIGINT/SIGTERM.
 *
 * The credentials printed here are generated for this local test emulator on every start; printing
 * them is the point (an integration under test needs them). Nothing real is ever printed.
 *
 * @example
 * npm run emulator -- --port 9000 --webhook-url http://127.0.0.1:3000/webhook --redirect-url http://127.0.0.1:3000/setup
 */
import { parseArgs } from 'node:util';
import { startPushoverEmulator } from '../pushover.ts';
import { offsetClock } from '../../src/clock.ts';
import { startSentryEmulator } from './index.ts';
import { sandboxPages } from './ui/index.ts';

const HELP = `usage: emulator [--port N] [--host H] [--webhook-url URL] [--redirect-url URL]
                [--verify-install true|false] [--published] [--jwt-refresh true|false]
                [--owner-org SLUG] [--region-orgs SLUG,SLUG] [--region-port N] [--pushover-port N]
--port, --region-port, --pushover-port: 0 to 65535; left out (or 0), any free port.
--host: the address both emulators (Sentry, its region host, Pushover) listen on; default 127.0.0.1.
--owner-org: only that org may install the (unpublished) app; others get 404, as on Sentry.
--region-orgs: these orgs live in a second "region" host (like de.sentry.io), printed as SENTRY_REGION_URL.
Starts the Sentry emulator (and the Pushover emulator) on --host until Ctrl-C.`;

/**
 * A port option: 0 (any free port) when left out; decimal digits 0–65535 otherwise. Checked as digits,
 * not with Number(): Number('') and Number(' ') are 0, so `--port ''` (an unset shell variable) would
 * silently mean "any free port", and '0x10' or '1e3' would pick a port nobody typed.
 */
function portOption(name: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new Error(`bad --${name} ${JSON.stringify(value)}: expected an integer 0 to 65535 (0 or left out: any free port)`);
  }
  return port;
}

/** The --host option: 127.0.0.1 when left out. An empty value is refused: listen() on '' binds every interface. */
function hostOption(value: string | undefined): string {
  if (value === undefined) return '127.0.0.1';
  if (value.trim() === '') throw new Error('bad --host "": expected an address to listen on, e.g. 127.0.0.1');
  return value;
}

function bool(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new Error(`bad --${name} ${JSON.stringify(value)}: expected true or false`);
}

/** Runs the emulator until a signal; returns the exit status. */
export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string' }, host: { type: 'string' }, 'webhook-url': { type: 'string' },
        'redirect-url': { type: 'string' }, 'verify-install': { type: 'string' }, published: { type: 'boolean' },
        'jwt-refresh': { type: 'string' }, 'owner-org': { type: 'string' }, 'region-orgs': { type: 'string' },
        'region-port': { type: 'string' }, 'pushover-port': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const port = portOption('port', values.port);
    const regionPort = portOption('region-port', values['region-port']);
    const pushoverPort = portOption('pushover-port', values['pushover-port']);
    const host = hostOption(values.host);
    // Every option is checked before anything listens: a throw after the Pushover emulator started
    // left it listening, so the command printed its usage error and then never exited.
    const verifyInstall = bool('verify-install', values['verify-install'], true);
    const jwtRefreshEnabled = bool('jwt-refresh', values['jwt-refresh'], true);
    const regionOrgs = (values['region-orgs'] ?? '').split(',').map((org) => org.trim()).filter(Boolean);
    // One clock for both, so the pages' timeline orders Pushover sends after an "advance 8 h".
    const clock = offsetClock();
    const pushover = await startPushoverEmulator({ clock, host, port: pushoverPort });
    const sentry = await startSentryEmulator({
      host,
      port,
      clock,
      pages: sandboxPages({ pushover }),
      ...(regionOrgs.length > 0 ? { region: { orgs: regionOrgs, port: regionPort } } : {}),
      apps: [{
        ...(values['owner-org'] ? { ownerOrg: values['owner-org'] } : {}),
        ...(values['webhook-url'] ? { webhookUrl: values['webhook-url'] } : {}),
        ...(values['redirect-url'] ? { redirectUrl: values['redirect-url'] } : {}),
        verifyInstall,
        published: values.published ?? false,
        jwtRefreshEnabled,
      }],
    }).catch(async (error: unknown) => {
      await pushover.close();
      throw error;
    });
    // Listen for the signals before printing: a supervisor may signal as soon as it sees the URL.
    const stopped = new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    const app = sentry.app;
    const u = sentry.url;
    // Generated, local-only test credentials: printing them is what this command is for.
    console.log(`Sentry emulator on ${u} (Pushover emulator on ${pushover.url})
app ${app.slug}: webhook ${app.webhookUrl ?? '(none: --webhook-url)'}, redirect ${app.redirectUrl ?? '(none: --redirect-url)'}, verify install ${app.verifyInstall}, published ${app.published}${app.ownerOrg ? `, owner org ${app.ownerOrg}` : ''}${sentry.regionUrl ? `
region host ${sentry.regionUrl} serves orgs ${regionOrgs.join(', ')}` : ''}

Environment for the integration under test (generated test credentials):
SENTRY_URL=${u}${sentry.regionUrl ? `\nSENTRY_REGION_URL=${sentry.regionUrl}` : ''}
SENTRY_CLIENT_ID=${app.clientId}
SENTRY_CLIENT_SECRET=${app.clientSecret}
PUSHOVER_URL=${pushover.url}
PUSHOVER_TOKEN=${pushover.token}
PUSHOVER_USER=${pushover.user}

Drive it in a browser: ${u}/   (see docs/sandbox.md)
or over HTTP (see docs/emulator.md):
  curl -s -XPOST ${u}/_emulator/install -d '{"org":"acme"}'
  curl -s -XPOST ${u}/_emulator/emit/issue -d '{"installationId":"<uuid>"}'
  curl -s -XPOST ${u}/_emulator/clock/advance -d '{"ms":28800000}'
  curl -s -XPOST ${u}/_emulator/faults -d '{"endpoint":"token.refresh","kind":"commit-then-drop"}'
  curl -s ${u}/_emulator/requests     curl -s ${u}/_emulator/deliveries     curl -s ${u}/_emulator/state
  curl -s -XPOST ${u}/_emulator/uninstall -d '{"installationId":"<uuid>"}'
Ctrl-C stops it.`);
    await stopped;
    await Promise.all([sentry.close(), pushover.close()]);
    return 0;
  } catch (error) {
    // A port in use is not a usage mistake: name it and leave the option list out. By syscall too:
    // Deno reports an address this machine does not have as listen EINVAL (Node: EADDRNOTAVAIL), and an
    // unknown --host fails in getaddrinfo.
    const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || syscall === 'listen' || syscall === 'getaddrinfo') {
      console.error(`emulator: cannot listen: ${(error as Error).message} (choose another --port / --region-port / --pushover-port / --host, or leave the port option out for a free one)`);
      return 2;
    }
    console.error(`emulator: ${error instanceof Error ? error.message : String(error)}\n${HELP}`);
    return 2;
  }
}
