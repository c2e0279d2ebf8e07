/**
 * The sandbox pages, served by the Sentry emulator through its `pages` option: plain HTML and a
 * little framework-free JS (no build step) that let a person drive the emulator by hand and watch
 * the protocol.
 *
 *   GET  /                                         → the Integrations page of the default org
 *   GET  /settings/{org}/integrations/             Integrations: the app and its Install button
 *   GET  /settings/{org}/sentry-apps/{app}/        the organization's installation (Sentry's own URL for it)
 *   POST /_ui/install      (form: org, app)        install, then 303 to the app's redirect URL (real browser redirect)
 *   POST /_ui/issue        {org, app, title}       create an issue (the issue.created webhook)
 *   POST /_ui/clock        {hours}                 advance the emulator's clock
 *   POST /_ui/uninstall    {org, app}              uninstall (installation.deleted)
 *   GET  /_ui/feed?org=&app=                       JSON: clock, app, installation, timeline, phone
 *   GET  /_ui/events                               server-sent "change" events (the page then refetches the feed)
 *   GET  /_ui/app.js, /_ui/style.css
 *
 * @example
 * const pushover = await startPushoverEmulator();
 * const sentry = await startSentryEmulator({ pages: sandboxPages({ pushover }) });
 * console.log(`open ${sentry.url}/`);
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AcceptedMessage, PushoverEmulator } from '../../pushover.ts';
import type { PageHandler } from '../options.ts';
import type { RequestContext } from '../reply.ts';
import type { EmulatorApp, EmulatorInstallation, SentryEmulator } from '../types.ts';
import { buildTimeline, type TimelineEntry, type UserAction } from './timeline.ts';

export { buildTimeline, fingerprint, redactBody, type TimelineEntry, type UserAction } from './timeline.ts';

/** Options for {@link sandboxPages}. */
export interface SandboxPagesOptions {
  /** The Pushover emulator whose messages the "phone" shows (none: the phone says so). */
  pushover?: PushoverEmulator;
  /** The organization `/` opens (default 'acme'). */
  org?: string;
  /** A sentence shown at the top of every page (the sandbox says what it is). */
  banner?: string;
}

/** What the phone shows for one accepted message. */
export interface PhoneNotification {
  at: number;
  title: string;
  message: string;
  html: boolean;
  url?: string;
  urlTitle?: string;
  priority: number;
  sound?: string;
}

/** The JSON the pages render. */
export interface Feed {
  now: number;
  /** How far the emulator's clock is ahead of real time (ms). */
  offsetMs: number;
  org: string;
  app?: Pick<EmulatorApp, 'slug' | 'name' | 'scopes' | 'events' | 'webhookUrl' | 'redirectUrl' | 'verifyInstall'>;
  /** The live installation of the app in the org, else the latest (deleted) one. */
  installation?: EmulatorInstallation & { state: 'pending' | 'installed' | 'uninstalled' };
  timeline: TimelineEntry[];
  /** Null when no Pushover emulator runs in this process. */
  phone: PhoneNotification[] | null;
  banner?: string;
}

const HOUR = 3600_000;
const SLUG = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const INTEGRATIONS = /^\/settings\/([^/]+)\/integrations\/?$/;
const INSTALLATION = /^\/settings\/([^/]+)\/sentry-apps\/([^/]+)\/?$/;

const here = new URL('./', import.meta.url);
const asset = (name: string): string => readFileSync(new URL(name, here), 'utf8');

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, {
    'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store',
    'x-content-type-options': 'nosniff', ...headers,
  });
  res.end(body);
  return true;
}

const sendJson = (res: ServerResponse, status: number, body: unknown): true => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The JSON body of a UI POST, or the form fields of the Install form. */
function fields(ctx: RequestContext): Record<string, unknown> {
  const text = ctx.raw.toString('utf8');
  const type = String(ctx.headers['content-type'] ?? '');
  if (type.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  try {
    const value: unknown = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function phoneOf(messages: AcceptedMessage[]): PhoneNotification[] {
  return messages.map((m) => ({
    at: m.at,
    title: m.params.title ?? 'Sentry',
    message: m.params.message ?? '',
    html: m.params.html === '1',
    ...(m.params.url ? { url: m.params.url } : {}),
    ...(m.params.url_title ? { urlTitle: m.params.url_title } : {}),
    priority: Number(m.params.priority ?? 0) || 0,
    ...(m.params.sound ? { sound: m.params.sound } : {}),
  }));
}

/**
 * The page handler to pass as the emulator's `pages` option.
 *
 * @example
 * await startSentryEmulator({ pages: sandboxPages({ org: 'acme' }) });
 */
export function sandboxPages(options: SandboxPagesOptions = {}): PageHandler {
  const defaultOrg = options.org ?? 'acme';
  const actions: UserAction[] = [];
  const changeListeners = new Set<() => void>();
  const changed = (): void => { for (const listener of changeListeners) listener(); };
  const shell = asset('page.html');

  const appOf = (emulator: SentryEmulator, slug: unknown): EmulatorApp => {
    const wanted = str(slug);
    const app = wanted ? emulator.apps().find((a) => a.slug === wanted) : emulator.app;
    if (!app) throw new RangeError(`unknown app ${String(wanted)}`);
    return app;
  };
  const installationOf = (emulator: SentryEmulator, org: string, app: string): Feed['installation'] => {
    const mine = emulator.installations().filter((i) => i.org.slug === org && i.appSlug === app);
    const found = mine.find((i) => !i.deleted) ?? mine.at(-1);
    if (!found) return undefined;
    return { ...found, state: found.deleted ? 'uninstalled' : found.status };
  };
  const record = (emulator: SentryEmulator, title: string, detail?: string): void => {
    actions.push({ at: emulator.clock.now(), title, ...(detail ? { detail } : {}) });
    changed();
  };

  function page(res: ServerResponse, view: 'integrations' | 'installation', org: string, app: string): true {
    const html = shell
      .replaceAll('{{VIEW}}', view)
      .replaceAll('{{ORG}}', escapeHtml(org))
      .replaceAll('{{APP}}', escapeHtml(app))
      .replaceAll('{{TITLE}}', view === 'integrations' ? 'Integrations' : 'Installation');
    return send(res, 200, 'text/html; charset=utf-8', html, {
      'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self' http: https:",
      'referrer-policy': 'no-referrer',
    });
  }

  function feed(emulator: SentryEmulator, org: string, appSlug: string | undefined): Feed {
    const app = emulator.apps().find((a) => a.slug === appSlug) ?? emulator.app;
    const installation = installationOf(emulator, org, app.slug);
    return {
      now: emulator.clock.now(),
      offsetMs: emulator.clock.now() - Date.now(),
      org,
      app: { slug: app.slug, name: app.name, scopes: app.scopes, events: app.events, webhookUrl: app.webhookUrl, redirectUrl: app.redirectUrl, verifyInstall: app.verifyInstall } as Feed['app'],
      ...(installation ? { installation } : {}),
      timeline: buildTimeline({
        requests: emulator.requests(), deliveries: emulator.deliveries(), actions,
        ...(options.pushover ? { pushover: options.pushover.requests() } : {}),
      }),
      phone: options.pushover ? phoneOf(options.pushover.messages()).reverse() : null,
      ...(options.banner ? { banner: options.banner } : {}),
    };
  }

  function events(res: ServerResponse, emulator: SentryEmulator): true {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    let queued = false;
    // Coalesce bursts (a refresh is three requests) into one "change"; the page refetches the feed.
    const notify = (): void => {
      if (queued) return;
      queued = true;
      setTimeout(() => {
        queued = false;
        if (!res.destroyed && !res.writableEnded) res.write('event: change\ndata: {}\n\n');
      }, 50);
    };
    const offSentry = emulator.onEvent(notify);
    const offPushover = options.pushover?.onEvent(notify);
    changeListeners.add(notify);
    const keepAlive = setInterval(() => { if (!res.destroyed) res.write(': keep-alive\n\n'); }, 15_000);
    res.on('close', () => {
      clearInterval(keepAlive);
      offSentry();
      offPushover?.();
      changeListeners.delete(notify);
    });
    return true;
  }

  async function act(ctx: RequestContext, res: ServerResponse, emulator: SentryEmulator, action: string): Promise<true> {
    const body = fields(ctx);
    const org = str(body.org) ?? defaultOrg;
    if (!SLUG.test(org)) return sendJson(res, 400, { error: 'org must be a lowercase slug' });
    const app = appOf(emulator, body.app);
    const live = (): EmulatorInstallation | undefined =>
      emulator.installations().find((i) => i.org.slug === org && i.appSlug === app.slug && !i.deleted);
    const managePage = `/settings/${encodeURIComponent(org)}/sentry-apps/${encodeURIComponent(app.slug)}/`;
    switch (action) {
      case 'install': {
        if (live()) {
          record(emulator, `${app.name} is already installed in ${org}`, 'back to its installation page');
          return send(res, 303, 'text/plain; charset=utf-8', 'Redirecting…', { location: managePage });
        }
        record(emulator, `You clicked Install: ${app.name} in ${org}`, app.redirectUrl
          ? `Sentry sends installation.created and redirects the browser to ${app.redirectUrl}?installationId=…&code=…&orgSlug=${org}`
          : 'the app has no redirect URL: Sentry sends installation.created and shows the installation page');
        const result = await emulator.install({ app: app.slug, org });
        // The webhook is sent alongside the browser redirect, as Sentry does; it settles on its own.
        result.webhook?.catch(() => {});
        return send(res, 303, 'text/plain; charset=utf-8', 'Redirecting…', { location: result.redirectUrl ?? managePage });
      }
      case 'issue': {
        const installation = live();
        const title = str(body.title)?.slice(0, 500) ?? 'Something broke';
        if (!installation) {
          record(emulator, `You created an issue: “${title}”`, `${app.name} is not installed in ${org}: Sentry sends no webhook`);
          return sendJson(res, 200, { webhook: false });
        }
        record(emulator, `You created an issue: “${title}”`);
        const result = await emulator.emitIssue({ installationId: installation.uuid, title, level: 'error' });
        return sendJson(res, 200, { issueId: result.issueId, webhook: Boolean(result.delivery), delivered: result.delivery?.delivered ?? false });
      }
      case 'clock': {
        const hours = typeof body.hours === 'number' ? body.hours : Number(str(body.hours) ?? 8);
        if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 365) return sendJson(res, 400, { error: 'hours must be > 0' });
        emulator.advanceClock(hours * HOUR);
        record(emulator, `You advanced Sentry’s clock by ${hours} h`, 'tokens issued before now are expired (they live 8 h)');
        return sendJson(res, 200, { now: emulator.clock.now() });
      }
      case 'uninstall': {
        const installation = live();
        if (!installation) return sendJson(res, 409, { error: `${app.name} is not installed in ${org}` });
        record(emulator, `You uninstalled ${app.name} from ${org}`);
        const delivery = await emulator.uninstall(installation.uuid);
        return sendJson(res, 200, { webhook: Boolean(delivery), delivered: delivery?.delivered ?? false });
      }
    }
    return sendJson(res, 404, { error: 'unknown action' });
  }

  return async (ctx, res, emulator) => {
    const { method, path } = ctx;
    const integrations = INTEGRATIONS.exec(path);
    const installation = INSTALLATION.exec(path);
    if (!path.startsWith('/_ui/') && path !== '/' && !integrations && !installation) return false;
    try {
      if (method === 'GET' || method === 'HEAD') {
        if (path === '/') return send(res, 302, 'text/plain', '', { location: `/settings/${encodeURIComponent(defaultOrg)}/integrations/` });
        if (integrations) return page(res, 'integrations', decodeURIComponent(integrations[1]!), emulator.app.slug);
        if (installation) return page(res, 'installation', decodeURIComponent(installation[1]!), decodeURIComponent(installation[2]!));
        if (path === '/_ui/app.js') return send(res, 200, 'text/javascript; charset=utf-8', asset('app.js'));
        if (path === '/_ui/style.css') return send(res, 200, 'text/css; charset=utf-8', asset('style.css'));
        if (path === '/_ui/feed') return sendJson(res, 200, feed(emulator, ctx.query.get('org') ?? defaultOrg, ctx.query.get('app') ?? undefined));
        if (path === '/_ui/events') return events(res, emulator);
      }
      if (method === 'POST' && /^\/_ui\/(install|issue|clock|uninstall)$/.test(path)) return await act(ctx, res, emulator, path.slice('/_ui/'.length));
      return sendJson(res, 404, { error: `no page ${method} ${path}` });
    } catch (error) {
      if (res.headersSent) return true;
      return sendJson(res, error instanceof RangeError ? 404 : 400, { error: error instanceof Error ? error.message : String(error) });
    }
  };
}
