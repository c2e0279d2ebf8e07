/**
 * HS256 JSON Web Tokens with node:crypto, for the JWT-bearer manual refresh grant (the client
 * signs with its client secret). `signJwt` is exported for tests and for integrations under test.
 *
 * @example
 * const jwt = signJwt(app.clientSecret, { iss: app.clientId, sub: app.clientId, iat, exp: iat + 60, jti: randomUUID() });
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Signs claims as an HS256 JWT. */
export function signJwt(secret: string, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** The claims of a JWT without checking anything (to find the app by `iss`), or undefined if malformed. */
export function peekJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'));
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return undefined;
    return { header: header as Record<string, unknown>, claims: claims as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** True when the token is HS256 and its signature matches `secret` (constant time). */
export function jwtSignatureValid(token: string, secret: string): boolean {
  const peeked = peekJwt(token);
  if (!peeked || peeked.header.alg !== 'HS256') return false;
  const at = token.lastIndexOf('.');
  const expected = createHmac('sha256', secret).update(token.slice(0, at)).digest();
  const given = Buffer.from(token.slice(at + 1), 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
