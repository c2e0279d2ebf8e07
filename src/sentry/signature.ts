import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Sentry's webhook signature: HMAC-SHA256 of the exact request bytes, keyed with the app's client
 * secret, as 64 lowercase hex digits (`Sentry-Hook-Signature`, and `Sentry-App-Signature` for
 * UI-component requests). Never sign a re-serialised body: `JSON.stringify(JSON.parse(body))` differs
 * from Sentry's bytes for non-ASCII text, numbers and key order.
 *
 * @example
 * const sig = sign(secret, rawBody);            // '9b68b7bc…'
 * verify(secret, rawBody, req.headers['sentry-hook-signature']); // true
 */
export function sign(secret: string, body: Uint8Array | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

const HEX_64 = /^[0-9a-f]{64}$/;

/** Options for {@link verify}. */
export interface VerifyOptions {
  /** Accept uppercase hex digits. Sentry never sends them; off by default. */
  allowUppercase?: boolean;
}

/**
 * Checks `signature` against the HMAC of `body` under any of `secrets` (several during a
 * client-secret rotation), in constant time. A missing, wrong-length or non-hex signature is simply
 * `false`, never an exception.
 */
export function verify(
  secrets: string | readonly string[],
  body: Uint8Array | string,
  signature: string | string[] | undefined | null,
  options: VerifyOptions = {},
): boolean {
  if (typeof signature !== 'string') return false;
  const candidate = options.allowUppercase ? signature.toLowerCase() : signature;
  if (!HEX_64.test(candidate)) return false;
  // The given hex is decoded once and compared with the raw 32-byte digests: no hex encode and decode
  // of every expected digest.
  const given = Buffer.from(candidate, 'hex');
  let ok = false;
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    if (!secret) continue;
    const expected = createHmac('sha256', secret).update(body).digest();
    // Evaluate every secret so timing does not reveal which one matched.
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
