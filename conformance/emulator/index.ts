/**
 * The Sentry emulator: an in-process HTTP server on loopback that behaves as Sentry's integration
 * platform does for one or more registered apps (install, token exchange/refresh/JWT, verify,
 * API auth, issues, uninstall, signed webhooks), with a controllable clock, fault injection, a
 * record of everything, and the same controls over HTTP under `/_emulator/`.
 *
 * @example
 * const sentry = await startSentryEmulator({ apps: [{ webhookUrl: 'http://127.0.0.1:3000/webhook' }] });
 * const { installation, code } = await sentry.install({ org: 'acme' });
 * sentry.advanceClock(8 * 3600_000);   // the token is now expired
 * await sentry.close();
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlEndpoint } from './control.ts';
import { FaultSet } from './faults.ts';
import { Operations } from './operations.ts';
import { resolveOptions, type EmulatorOptions } from './options.ts';
import { Recorder } from './record.ts';
import type { RequestContext } from './reply.ts';
import { createHandler, routeRegion, routeSentry } from './server.ts';
import { EmulatorState, publicInstallation } from './state.ts';
import type { SentryEmulator } from './types.ts';
import { WebhookSender } from './webhooks.ts';

export type { EmulatorOptions, PageHandler } from './options.ts';
export type * from './types.ts';
export { signJwt } from './jwt.ts';
export { InstallNotAllowedError } from './errors.ts';
export { GRANT_AUTHORIZATION, GRANT_JWT, GRANT_REFRESH } from './tokens.ts';

/** Starts the emulator; resolves once it listens. */
export async function startSentryEmulator(input: EmulatorOptions = {}): Promise<SentryEmulator> {
  const options = resolveOptions(input);
  const state = new EmulatorState(options);
  for (const app of options.apps ?? [{}]) state.addApp(app);
  const recorder = new Recorder();
  const faults = new FaultSet();
  const sender = new WebhookSender(options, recorder, faults);
  let baseUrl = '';
  let regionBaseUrl: string | undefined;
  const ops = new Operations({ state, options, sender, baseUrl: () => baseUrl });
  const sleeps = new Set<() => void>();
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    const finish = (): void => { clearTimeout(timer); sleeps.delete(finish); resolve(); };
    const timer = setTimeout(finish, ms);
    sleeps.add(finish);
  });

  const emulator: SentryEmulator = {
    get url() { return baseUrl; },
    get regionUrl() { return regionBaseUrl; },
    clock: options.clock,
    get app() { return ops.app(); },
    apps: () => [...state.apps.values()],
    registerApp: (partial) => state.addApp(partial),
    updateApp(slug, changes) {
      const app = ops.app(slug);
      const { slug: _ignored, ...rest } = changes;
      Object.assign(app, rest);
      // JSON callers clear the owner with null.
      if (app.ownerOrg === null) delete app.ownerOrg;
      return app;
    },
    install: async (opts) => ops.install(opts),
    sendInstallationCreated: (id, opts) => ops.sendInstallationCreated(id, opts),
    uninstall: (id) => ops.uninstall(id),
    installation: (id) => {
      const row = state.installations.get(id);
      return row && publicInstallation(row);
    },
    installations: () => [...state.installations.values()].map(publicInstallation),
    emitIssue: (opts) => ops.emitIssue(opts),
    emitWebhook: (opts) => ops.emitWebhook(opts),
    advanceClock: (ms) => options.clock.advance(ms),
    inject: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    requests: (filter) => recorder.requests(filter),
    deliveries: (filter) => recorder.deliveries(filter),
    onEvent: (listener) => recorder.listen(listener),
    close: async () => {
      for (const finish of [...sleeps]) finish();
      await sender.close();
      await Promise.all([closeServer(server), ...(regionServer ? [closeServer(regionServer)] : [])]);
    },
  };

  const deps = { state, options, baseUrl: () => baseUrl, regionBaseUrl: () => regionBaseUrl };
  const server = createServer(createHandler({
    route: (ctx) => routeSentry(ctx, deps),
    control: (ctx) => controlEndpoint(ctx, emulator, { faults: () => faults.list() }),
    faults,
    recorder,
    now: () => options.clock.now(),
    sleep,
    ...(options.pages ? { pages: (ctx: RequestContext, res: ServerResponse) => options.pages!(ctx, res, emulator) } : {}),
  }));
  baseUrl = await listen(server, options.port, options.host);
  let regionServer: Server | undefined;
  if (options.region) {
    const cell = options.region.name ?? 'de';
    const regionDeps = { ...deps, cell };
    regionServer = createServer(createHandler({
      route: (ctx) => routeRegion(ctx, regionDeps), faults, recorder, cell, now: () => options.clock.now(), sleep,
    }));
    try {
      regionBaseUrl = await listen(regionServer, options.region.port ?? 0, options.region.host ?? options.host);
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  }
  return emulator;
}

/** Listens and returns the base URL (http://host:port). */
async function listen(server: Server, port: number, hostname: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
