/**
 * Helpers for tests that drive the emulator over real loopback HTTP: a webhook receiver that
 * records what arrives and answers as told, and small JSON request helpers.
 *
 * @example
 * const hook = await startReceiver((req) => ({ status: 200 }));
 * const sentry = await startSentryEmulator({ apps: [{ webhookUrl: hook.url }] });
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../../src/http.ts';
import type { InstallResult, SentryEmulator } from './types.ts';

/** A webhook the receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the receiver answers: a status (default 200), an optional delay in ms and extra headers. */
export type Responder = (received: Received, index: number) => { status?: number; delayMs?: number; headers?: Record<string, string> };

/** A loopback HTTP server that records webhooks. */
export interface Receiver {
  url: string;
  received: Received[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1:0. */
export async function startReceiver(responder: Responder = () => ({})): Promise<Receiver> {
  let current = responder;
  const received: Received[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    void readBody(req, 1 << 20).then((raw) => {
      const item = { headers: req.headers, body: raw.toString('utf8') };
      received.push(item);
      const answer = current(item, received.length - 1);
      const finish = (): void => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'Content-Type': 'text/plain', ...answer.headers });
        res.end('ok');
      };
      if (answer.delayMs) {
        const timer = setTimeout(() => { timers.delete(timer); finish(); }, answer.delayMs);
        timers.add(timer);
      } else finish();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    respond: (next) => { current = next; },
    close: () => new Promise((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A response with its body parsed when it is JSON. */
export interface JsonResponse {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

/** Sends a request and reads the whole answer. */
/**
 * Sends a request on a fresh connection and reads the whole answer. A fresh connection matters:
 * some clients (Deno's fetch) silently resend a request whose reused keep-alive connection was
 * dropped, which would hide the emulator's drop faults.
 */
export function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try { body = JSON.parse(text); } catch { body = undefined; }
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, text, body, headers });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** POSTs JSON. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return call(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** The token endpoint URL of an installation. */
export function tokenUrl(sentry: SentryEmulator, installationId: string): string {
  return `${sentry.url}/api/0/sentry-app-installations/${installationId}/authorizations/`;
}

/** Installs and exchanges the code; returns the install and the 201 body. */
export async function installAndExchange(sentry: SentryEmulator, org = 'test-org', app?: string): Promise<{ install: InstallResult; token: any }> {
  const install = await sentry.install({ org, sendWebhook: false, ...(app === undefined ? {} : { app }) });
  const owner = sentry.apps().find((a) => a.slug === install.installation.appSlug) ?? sentry.app;
  const res = await postJson(tokenUrl(sentry, install.installation.uuid), {
    grant_type: 'authorization_code', code: install.code, client_id: owner.clientId, client_secret: owner.clientSecret,
  });
  if (res.status !== 201) throw new Error(`exchange failed: ${res.status} ${res.text}`);
  return { install, token: res.body };
}
