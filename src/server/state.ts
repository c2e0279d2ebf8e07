/**
 * Signed `state` for installs that start at the app's external-install link
 * (`${SENTRY_URL}/sentry-apps/<slug>/external-install/?state=…`): Sentry passes `state` through to
 * the redirect only for that entry point. The state is `<issuedAtMs>.<nonce>.<hmac>`, HMAC-SHA256
 * under a key derived from the client secret, valid for 10 minutes and single-use within this
 * process. A state the server did not issue (bad MAC, expired, replayed) is refused. During a secret
 * rotation (SENTRY_CLIENT_SECRET_PREVIOUS) a state signed under the previous secret still verifies,
 * so install links handed out just before the restart keep working for their 10 minutes.
 *
 * Trade-off: installs from Sentry's integration directory carry no state at all, and must be
 * accepted (that is how Sentry works); for them the single-use, 10-minute grant code that only
 * Sentry can mint, exchanged with the client secret, is the binding.
 *
 * @example
 * const states = createStateSigner(secret, clock);
 * const link = externalInstallUrl(sentryUrl, appSlug, states.issue());
 * states.verify(query.state); // 'ok' | 'invalid' | 'expired' | 'replayed'
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';

export const STATE_LIFE_MS = 10 * 60_000;

/** The result of checking a state. */
export type StateCheck = 'ok' | 'invalid' | 'expired' | 'replayed';

/** Issues and checks signed states. */
export interface StateSigner {
  issue(): string;
  verify(state: string): StateCheck;
}

/**
 * Creates a signer keyed from `secret` (the client secret); `previousSecrets` only verify.
 *
 * @example
 * createStateSigner(secret, systemClock).verify(createStateSigner(secret, systemClock).issue()); // 'ok'
 */
export function createStateSigner(secret: string, clock: Clock, lifeMs = STATE_LIFE_MS, previousSecrets: readonly string[] = []): StateSigner {
  const keyOf = (s: string) => createHmac('sha256', s).update('sentry-integration-kit setup state v1').digest();
  const [key, ...previousKeys] = [secret, ...previousSecrets].map(keyOf) as [Buffer, ...Buffer[]];
  const used = new Map<string, number>();
  const mac = (k: Buffer, payload: string) => Buffer.from(createHmac('sha256', k).update(payload).digest('base64url'));
  return {
    issue() {
      const payload = `${clock.now()}.${randomBytes(16).toString('base64url')}`;
      return `${payload}.${mac(key, payload).toString()}`;
    },
    verify(state) {
      const match = /^(\d{1,15})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(state);
      if (!match) return 'invalid';
      const payload = `${match[1]}.${match[2]}`;
      const given = Buffer.from(match[3]!);
      // Every key is tried (no early exit), so the time taken does not tell which one matched.
      let signed = false;
      for (const k of [key, ...previousKeys]) {
        const expected = mac(k, payload);
        if (expected.length === given.length && timingSafeEqual(expected, given)) signed = true;
      }
      if (!signed) return 'invalid';
      const issuedAt = Number(match[1]);
      const now = clock.now();
      if (now - issuedAt > lifeMs || issuedAt - now > 60_000) return 'expired';
      for (const [nonce, at] of used) if (now - at > lifeMs) used.delete(nonce);
      if (used.has(match[2]!)) return 'replayed';
      used.set(match[2]!, issuedAt);
      return 'ok';
    },
  };
}

/**
 * The external-install link that makes Sentry carry `state` back to /setup.
 *
 * @example
 * externalInstallUrl('https://sentry.io', 'my-app', state); // https://sentry.io/sentry-apps/my-app/external-install/?state=…
 */
export function externalInstallUrl(sentryUrl: string, appSlug: string, state: string): string {
  return `${sentryUrl.replace(/\/+$/, '')}/sentry-apps/${encodeURIComponent(appSlug)}/external-install/?state=${encodeURIComponent(state)}`;
}
