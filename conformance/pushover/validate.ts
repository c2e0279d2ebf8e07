/**
 * Validation of `POST /1/messages.json` parameters, with the error bodies catalogued in
 * pushover-api.md §4.3. Where the reference marks real behaviour UNCONFIRMED ([U]) the choice is an
 * option (see {@link ValidationPolicy}) and the wording is ours.
 */
import {
  codePointLength,
  PUSHOVER_KEY_PATTERN,
  PUSHOVER_LIMITS,
  PUSHOVER_MAX_EXPIRE_S,
  PUSHOVER_MAX_USERS,
  PUSHOVER_MIN_RETRY_S,
} from '../../src/pushover/limits.ts';
import type { DecodedParams } from './parse.ts';

/** Field keys (`"user":"invalid"`) and `errors[]` of one 4xx answer. */
export interface FieldErrors {
  fields: Record<string, string>;
  errors: string[];
}

/** Choices for behaviour the reference cannot confirm. */
export interface ValidationPolicy {
  /** Over-length message/title/url/url_title: 400 (default) or silent truncation. [U] */
  overLength: 'reject' | 'truncate';
  /** `expire` above 10800 with priority 2: 400 (default), clamp to 10800, or accept as sent. [U] */
  expireAboveMax: 'reject' | 'clamp' | 'accept';
  /** A sound that is neither built-in nor custom: accept (default) or 400. [U] */
  unknownSound: 'accept' | 'reject';
  /** Largest attachment in bytes (default 5,242,880). */
  maxAttachmentBytes: number;
}

/** What a valid request delivers. */
export interface ValidMessage {
  params: Record<string, string>;
  users: string[];
  devices: string[];
  attachment?: { filename?: string; type: string; bytes: Uint8Array; base64: boolean };
}

const INTEGER = /^-?\d+$/;
const LENGTH_FIELDS = ['message', 'title', 'url', 'url_title'] as const;

/**
 * Validates decoded parameters (the token has been checked already). Returns the field errors, all of
 * them in one body in a fixed order, or the accepted message with its recipients.
 *
 * @example
 * const r = validateMessage(decoded, { isUser: (k) => k === USER, sounds: new Set(['pushover']), policy });
 * if ('errors' in r) … // 400 body
 */
export function validateMessage(
  decoded: DecodedParams,
  ctx: { isUser(key: string): boolean; sounds: ReadonlySet<string>; policy: ValidationPolicy },
): FieldErrors | ValidMessage {
  const p = { ...decoded.params };
  const fields: Record<string, string> = {};
  const errors: string[] = [];
  const fail = (field: string, reason: string, error: string) => {
    fields[field] = reason;
    errors.push(error);
  };
  const has = (k: string) => p[k] !== undefined && p[k] !== '';

  const users = (p.user ?? '').split(',').filter((u) => u !== '');
  if (users.length > PUSHOVER_MAX_USERS) {
    fail('user', 'invalid', `user list has more than ${PUSHOVER_MAX_USERS} keys`); // wording [U]
  } else if (users.length === 0 || !users.every((u) => PUSHOVER_KEY_PATTERN.test(u) && ctx.isUser(u))) {
    fail('user', 'invalid', 'user identifier is not a valid user, group, or subscribed user key');
  }

  if ((p.message ?? '').trim() === '') fail('message', 'cannot be blank', 'message cannot be blank');

  if (p.html === '1' && p.monospace === '1') {
    fields.html = 'cannot be set with monospace';
    fields.monospace = 'cannot be set with html';
    errors.push('html and monospace are mutually exclusive');
  }

  let priority = 0;
  if (has('priority')) {
    const n = Number(p.priority);
    if (!INTEGER.test(p.priority!) || n < -2 || n > 2) {
      fail('priority', 'is invalid, can only be -2, -1, 0, 1, or 2', 'priority is invalid');
    } else priority = n;
  }

  if (priority === 2) {
    if (!has('retry')) fail('retry', 'must be supplied with priority=2', 'retry must be supplied with priority=2');
    else if (!INTEGER.test(p.retry!)) fail('retry', 'is invalid', 'retry is invalid');
    else if (Number(p.retry) < PUSHOVER_MIN_RETRY_S) {
      fail('retry', `is too small, must be at least ${PUSHOVER_MIN_RETRY_S} seconds`, 'retry is invalid');
    }
    if (!has('expire')) fail('expire', 'must be supplied with priority=2', 'expire must be supplied with priority=2');
    else if (!INTEGER.test(p.expire!) || Number(p.expire) < 1) fail('expire', 'is invalid', 'expire is invalid');
    else if (Number(p.expire) > PUSHOVER_MAX_EXPIRE_S) {
      if (ctx.policy.expireAboveMax === 'reject') {
        fail('expire', `is too large, must be at most ${PUSHOVER_MAX_EXPIRE_S} seconds`, 'expire is invalid'); // [U]
      } else if (ctx.policy.expireAboveMax === 'clamp') p.expire = String(PUSHOVER_MAX_EXPIRE_S);
    }
  }

  if (has('timestamp') && !/^\d+$/.test(p.timestamp!)) fail('timestamp', 'is invalid', 'timestamp is invalid');
  // ttl is ignored with priority 2; otherwise it must be a positive integer ([U] wording).
  if (priority === 2) delete p.ttl;
  else if (has('ttl') && !(/^\d+$/.test(p.ttl!) && Number(p.ttl) > 0)) fail('ttl', 'is invalid', 'ttl is invalid');

  for (const field of LENGTH_FIELDS) {
    const value = p[field];
    const max = PUSHOVER_LIMITS[field];
    if (value === undefined || codePointLength(value) <= max) continue;
    if (ctx.policy.overLength === 'truncate') p[field] = Array.from(value).slice(0, max).join('');
    else fail(field, 'is too long', `${field} is too long, must be at most ${max} characters`); // [U]
  }

  if (has('sound') && ctx.policy.unknownSound === 'reject' && !ctx.sounds.has(p.sound!)) {
    fail('sound', 'is invalid', 'sound is invalid'); // [U]
  }

  let attachment: ValidMessage['attachment'];
  if (decoded.attachment) {
    attachment = { ...decoded.attachment, base64: false };
  } else if (has('attachment_base64')) {
    if (!has('attachment_type')) {
      fail('attachment_type', 'must be supplied with attachment_base64', 'attachment_type must be supplied with attachment_base64'); // [U]
    } else if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(p.attachment_base64!)) {
      fail('attachment_base64', 'is invalid', 'attachment_base64 is invalid'); // [U]
    } else {
      attachment = { type: p.attachment_type!, bytes: new Uint8Array(Buffer.from(p.attachment_base64!, 'base64')), base64: true };
    }
  }
  if (attachment && attachment.bytes.length > ctx.policy.maxAttachmentBytes) {
    // Exact observed text, unbalanced parenthesis included (Octoslack#119).
    errors.push(`attachment is too large (${attachment.bytes.length} bytes is more than ${ctx.policy.maxAttachmentBytes} limit`);
    fields.attachment = 'is too large';
  }

  if (errors.length > 0) return { fields, errors };
  const devices = (p.device ?? '').split(',').filter((d) => d !== '');
  return { params: p, users, devices, ...(attachment ? { attachment } : {}) };
}
