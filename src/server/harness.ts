/**
 * Test harness: the real Sentry emulator, a real file store in a temp dir and the integration server
 * over loopback, wired the way `serve` wires them, with the emulator's clock injected everywhere.
 *
 * @example
 * const stack = await startStack({ verifyInstall: true });
 * const { redirectUrl } = await stack.emulator.install({ sendWebhook: false });
 * const res = await stack.browse(redirectUrl!); // 302
 * await stack.stop();
 */
import { request } from 'undici';
import { startSentryEmulator, type SentryEmulator } from '../../conformance/emulator/index.ts';
import type { EmulatorOptions } from '../../conformance/emulator/index.ts';
import { loadConfig, type Config } from '../config.ts';
import { memoryLogger, type MemoryLogger } from '../log.ts';
import { createSentryApi, type SentryApi } from '../sentry/api.ts';
import { openFileStore, type FileStore } from '../store/file.ts';
import { tempDir } from '../testing/runtime.ts';
import { createServer, type IntegrationServer, type ServerDeps } from './app.ts';

/** Options for {@link startStack}. */
export interface StackOptions {
  verifyInstall?: boolean;
  jwtRefresh?: boolean;
  /** Extra environment for `loadConfig`. */
  env?: Record<string, string>;
  emulator?: EmulatorOptions;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  server?: Partial<ServerDeps>;
  /** Start with an already-running emulator. */
  sentry?: SentryEmulator;
}

/** A running stack. */
export interface Stack {
  emulator: SentryEmulator;
  config: Config;
  store: FileStore;
  api: SentryApi;
  app: IntegrationServer;
  url: string;
  dataDir: string;
  logger: MemoryLogger;
  /** Delays requested from the injected sleep (back-off), never actually waited. */
  sleeps: number[];
  /** GET without following redirects. */
  browse(url: string): Promise<{ status: number; location?: string; body: string }>;
  /** Stops the server (and the emulator and temp dir unless kept). */
  stop(options?: { keepEmulator?: boolean; keepDir?: boolean }): Promise<void>;
}

/** Starts emulator + store + server. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const emulator = options.sentry ?? await startSentryEmulator({
    apps: [{ verifyInstall: options.verifyInstall ?? true }],
    ...options.emulator,
  });
  const dir = options.dataDir ? { path: options.dataDir, remove: async () => {} } : await tempDir('sik-server-');
  const app0 = emulator.app;
  const config = loadConfig({
    env: {
      SENTRY_URL: emulator.url,
      SENTRY_CLIENT_ID: app0.clientId,
      SENTRY_CLIENT_SECRET: app0.clientSecret,
      SENTRY_APP_SLUG: app0.slug,
      VERIFY_INSTALL: String(options.verifyInstall ?? true),
      JWT_REFRESH: String(options.jwtRefresh ?? true),
      DATA_DIR: dir.path,
      ...options.env,
    },
  });
  // Wall time for the store: its lock ages are compared with file mtimes.
  const store = await openFileStore({ dir: dir.path, onWarning: () => {} });
  const api = createSentryApi({ baseUrl: config.sentryUrl, clientId: config.clientId!, clientSecret: config.clientSecret!, clock: emulator.clock, timeoutMs: 5000 });
  const logger = memoryLogger();
  const sleeps: number[] = [];
  const app = createServer({
    config, store, api, clock: emulator.clock, logger,
    sleep: async (ms) => { sleeps.push(ms); },
    ...options.server,
  });
  const url = await app.listen(0, '127.0.0.1');
  emulator.updateApp(app0.slug, { webhookUrl: `${url}${config.webhookPath}`, redirectUrl: `${url}${config.setupPath}` });
  return {
    emulator, config, store, api, app, url, dataDir: dir.path, logger, sleeps,
    async browse(target) {
      const res = await request(target, { method: 'GET' });
      const body = await res.body.text();
      const location = res.headers.location;
      return { status: res.statusCode, body, ...(typeof location === 'string' ? { location } : {}) };
    },
    async stop(stopOptions = {}) {
      await app.close();
      if (!stopOptions.keepEmulator && !options.sentry) await emulator.close();
      if (!stopOptions.keepDir) await dir.remove();
    },
  };
}

/** Installs through the redirect and returns the installation id (asserting nothing). */
export async function installViaRedirect(stack: Stack, org = 'acme'): Promise<{ id: string; status: number; location?: string }> {
  const result = await stack.emulator.install({ org, sendWebhook: false });
  const res = await stack.browse(result.redirectUrl!);
  return { id: result.installation.uuid, status: res.status, ...(res.location ? { location: res.location } : {}) };
}
