/**
 * `/_emulator/`: the TypeScript API over HTTP + JSON, so programs in any language can drive the
 * emulator. Errors are `{"error": "..."}` with 400 (bad input) or 404 (unknown thing). Installing an
 * unpublished app outside its `ownerOrg` answers 404 as Sentry does, with `detail` and `error`.
 *
 *   GET    /_emulator/state                 apps, installations, clock, faults
 *   GET    /_emulator/apps                  POST /_emulator/apps {…}   PATCH /_emulator/apps/{slug} {…}
 *                                           (e.g. {"active":false}, {"ownerOrg":"acme"}, {"ownerOrg":null})
 *   POST   /_emulator/install               {app?, org?, state?, sendWebhook?, wait?}
 *   GET    /_emulator/installations/{uuid}
 *   POST   /_emulator/installations/{uuid}/installation-created   {includeCode?}
 *   POST   /_emulator/uninstall             {installationId}
 *   POST   /_emulator/emit/issue            {installationId, action?, title?, level?, culprit?, projectSlug?, issueId?}
 *   POST   /_emulator/emit/webhook          {installationId, resource, action, data, actor?}
 *   POST   /_emulator/clock/advance         {ms}
 *   POST   /_emulator/faults                {endpoint, kind, ...}     DELETE /_emulator/faults
 *   GET    /_emulator/requests?endpoint=    GET /_emulator/deliveries?resource=&action=&installationId=
 *
 * @example
 * curl -s -XPOST $SENTRY_URL/_emulator/install -d '{"org":"acme"}'
 */
import { InstallNotAllowedError } from './errors.ts';
import { faultProblem } from './faults.ts';
import { json, type Reply, type RequestContext } from './reply.ts';
import type { EmulatorApp, Fault, SentryEmulator } from './types.ts';

const bad = (message: string): Reply => json(400, { error: message });
const missing = (message: string): Reply => json(404, { error: message });

/** The JSON object body, or a string saying what is wrong with it. */
function body(ctx: RequestContext): Record<string, unknown> | string {
  if (ctx.raw.length === 0 || ctx.method === 'GET' || ctx.method === 'DELETE') return {};
  try {
    const value: unknown = JSON.parse(ctx.raw.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'body must be a JSON object';
    return value as Record<string, unknown>;
  } catch {
    return 'body is not valid JSON';
  }
}

function str(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  return typeof v === 'string' ? v : undefined;
}

/** Handles a `/_emulator/…` request against the emulator's TypeScript API. */
export async function controlEndpoint(ctx: RequestContext, emulator: SentryEmulator, extra: { faults(): Fault[] }): Promise<Reply> {
  const parts = ctx.path.replace(/^\/_emulator\/?/, '').split('/').filter(Boolean);
  const route = `${ctx.method} ${parts[0] ?? ''}`;
  const b = body(ctx);
  if (typeof b === 'string') return bad(b);
  try {
    switch (route) {
      case 'GET state': return json(200, {
        url: emulator.url, ...(emulator.regionUrl === undefined ? {} : { regionUrl: emulator.regionUrl }),
        now: emulator.clock.now(), apps: emulator.apps(),
        installations: emulator.installations(), faults: extra.faults(),
      });
      case 'GET apps': return json(200, emulator.apps());
      case 'POST apps': return json(201, emulator.registerApp(b as Partial<EmulatorApp>));
      case 'PATCH apps': return json(200, emulator.updateApp(parts[1] ?? '', b as Partial<EmulatorApp>));
      case 'POST install': {
        const result = await emulator.install({
          ...(str(b, 'app') === undefined ? {} : { app: str(b, 'app') as string }),
          ...(str(b, 'org') === undefined ? {} : { org: str(b, 'org') as string }),
          ...(str(b, 'state') === undefined ? {} : { state: str(b, 'state') as string }),
          ...(b.sendWebhook === false ? { sendWebhook: false } : {}),
        });
        const { webhook, ...rest } = result;
        const delivery = webhook && b.wait !== false ? await webhook : undefined;
        return json(201, { ...rest, ...(delivery ? { webhook: delivery } : {}) });
      }
      case 'GET installations': {
        const found = emulator.installation(parts[1] ?? '');
        return found ? json(200, found) : missing('unknown installation');
      }
      case 'POST installations':
        if (parts[2] !== 'installation-created') break;
        return json(200, await emulator.sendInstallationCreated(parts[1] ?? '', { includeCode: b.includeCode !== false }));
      case 'POST uninstall': {
        const id = str(b, 'installationId');
        if (!id) return bad('installationId is required');
        const delivery = await emulator.uninstall(id);
        return json(200, { installation: emulator.installation(id), webhook: delivery ?? null });
      }
      case 'POST emit': {
        const id = str(b, 'installationId');
        if (!id) return bad('installationId is required');
        if (parts[1] === 'issue') return json(200, await emulator.emitIssue({ ...b, installationId: id }));
        if (parts[1] !== 'webhook') break;
        const resource = str(b, 'resource');
        const action = str(b, 'action');
        if (!resource || !action) return bad('resource and action are required');
        return json(200, await emulator.emitWebhook({ installationId: id, resource, action, data: b.data ?? {}, ...(b.actor === undefined ? {} : { actor: b.actor }) }));
      }
      case 'POST clock': {
        if (parts[1] !== 'advance') break;
        const ms = b.ms;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return bad('ms must be a number >= 0');
        emulator.advanceClock(ms);
        return json(200, { now: emulator.clock.now(), offset: emulator.clock.now() - Date.now() });
      }
      case 'POST faults': {
        const problem = faultProblem(b);
        if (problem) return bad(problem);
        emulator.inject(b as unknown as Fault);
        return json(201, { faults: extra.faults() });
      }
      case 'DELETE faults': emulator.clearFaults(); return json(200, { faults: [] });
      case 'GET requests': {
        const endpoint = ctx.query.get('endpoint');
        return json(200, emulator.requests(endpoint === null ? {} : { endpoint }));
      }
      case 'GET deliveries': {
        const filter: { resource?: string; action?: string; installationId?: string } = {};
        for (const key of ['resource', 'action', 'installationId'] as const) {
          const v = ctx.query.get(key);
          if (v !== null) filter[key] = v;
        }
        return json(200, emulator.deliveries(filter));
      }
    }
  } catch (error) {
    if (error instanceof InstallNotAllowedError) return json(404, { detail: 'The requested resource does not exist', error: error.message });
    if (error instanceof RangeError) return missing(error.message);
    return bad(error instanceof Error ? error.message : String(error));
  }
  return missing(`unknown control route ${ctx.method} ${ctx.path}`);
}
