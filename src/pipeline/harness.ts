/**
 * Test harness for the pipeline: the Sentry emulator, the Pushover emulator (sharing the Sentry
 * emulator's clock), the real server over loopback with a file store and the real outbox in a temp
 * dir, wired the way `serve` wires them.
 *
 * @example
 * const h = await startPipelineStack();
 * const id = await h.install();
 * await h.stack.emulator.emitIssue({ installationId: id });
 * await h.waitFor(() => h.pushover.messages().length === 1);
 * await h.stop();
 */
import { rm } from 'node:fs/promises';
import { PUSHOVER_EMULATOR_TOKEN, PUSHOVER_EMULATOR_USER, startPushoverEmulator, type PushoverEmulator, type PushoverEmulatorOptions } from '../../conformance/pushover.ts';
import { startStack, type Stack, type StackOptions } from '../server/harness.ts';
import type { WebhookRequest } from '../server/app.ts';
import { openPipeline, type Pipeline, type PipelineOptions } from './pipeline.ts';

/** Options for {@link startPipelineStack}. */
export interface PipelineStackOptions {
  stack?: StackOptions;
  pushover?: PushoverEmulatorOptions;
  /** Extra pipeline environment (NOTIFY_EVENTS, …). */
  env?: Record<string, string>;
  pipeline?: Partial<PipelineOptions>;
  /** Start the worker at once (default true). */
  startWorker?: boolean;
}

/** A running pipeline stack. */
export interface PipelineStack {
  stack: Stack;
  pushover: PushoverEmulator;
  pipeline: Pipeline;
  /** Installs through the installation.created webhook and waits until the token is stored. */
  install(org?: string): Promise<string>;
  /** Polls `check` every 10 ms until true; throws with `what` after `timeoutMs` (default 10 s). */
  waitFor(check: () => boolean | Promise<boolean>, what?: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts everything; the worker retries with a 20 ms floor (PUSHOVER_RETRY_MIN_MS) so tests stay fast. */
export async function startPipelineStack(options: PipelineStackOptions = {}): Promise<PipelineStack> {
  let pipeline: Pipeline | undefined;
  const env = {
    PUSHOVER_TOKEN: PUSHOVER_EMULATOR_TOKEN,
    PUSHOVER_USER: PUSHOVER_EMULATOR_USER,
    PUSHOVER_RETRY_MIN_MS: '20',
    ...options.env,
  };
  const stack = await startStack({
    verifyInstall: false,
    ...options.stack,
    env: { ...env, ...options.stack?.env },
    server: {
      // The pipeline needs the server's token manager, so the hooks forward to it once it exists.
      onWebhook: (request: WebhookRequest) => pipeline!.hooks.onWebhook(request),
      onInstallationDeleted: (id: string) => pipeline!.hooks.onInstallationDeleted(id),
      health: () => pipeline!.hooks.health(),
      ...options.stack?.server,
    },
  });
  let pushover: PushoverEmulator | undefined;
  try {
    pushover = await startPushoverEmulator({ clock: stack.emulator.clock, ...options.pushover });
    pipeline = await openPipeline({
      config: stack.config,
      env: { ...env, PUSHOVER_URL: pushover.url },
      store: stack.store,
      api: stack.api,
      tokens: () => stack.app.tokens,
      regionFor: (id) => stack.app.installer.regionFor(id),
      clock: stack.emulator.clock,
      logger: stack.logger,
      // Tests exercise a process crash, not power loss: skip fsync to keep a loaded CI machine fast.
      outbox: { durability: 'none' },
      ...options.pipeline,
    });
  } catch (error) {
    await pushover?.close();
    await stack.stop();
    throw error;
  }
  if (options.startWorker ?? true) pipeline.start();
  const po = pushover;
  const pl = pipeline;

  async function waitFor(check: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  return {
    stack, pushover: po, pipeline: pl, waitFor,
    async install(org = 'acme') {
      const result = await stack.emulator.install({ org });
      const delivery = await result.webhook;
      if (!delivery?.delivered) throw new Error('installation.created was not acknowledged');
      const id = result.installation.uuid;
      await waitFor(async () => (await stack.store.get(id))?.status === 'active', 'the installation to be stored');
      return id;
    },
    async stop() {
      await pl.stop();
      await stack.stop({ keepDir: true });
      await pl.close();
      await po.close();
      await rm(stack.dataDir, { recursive: true, force: true });
    },
  };
}
