import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { StoreCorruptError, StoreKeyError } from './errors.ts';
import { canonicalInstallationId, isInstallationId } from './ids.ts';
import { keyId } from './key.ts';
import type { InstallationRecord } from './types.ts';

/** The `format` field of every record file: anything without it is a foreign file. */
export const RECORD_FORMAT = 'sentry-integration-kit/installation';
/** The on-disk version this code writes and reads. */
export const RECORD_VERSION = 1;

interface Envelope {
  format: string;
  version: number;
  installationId: string;
  enc: 'none' | 'aes-256-gcm';
  record?: unknown;
  kid?: string;
  iv?: string;
  tag?: string;
  data?: string;
}

/** What `decodeRecordFile` found. `encrypted` lets the file store migrate clear files to encrypted. */
export interface DecodedRecord {
  record: InstallationRecord;
  encrypted: boolean;
}

function aad(installationId: string): Buffer {
  // Binds the ciphertext to its installation: a file copied under another id fails authentication.
  return Buffer.from(`${RECORD_FORMAT}\n${RECORD_VERSION}\n${installationId}`);
}

/**
 * Serializes a record to the bytes of its file. With a 32-byte `key` the whole record is sealed with
 * AES-256-GCM (fresh 96-bit IV per write); only the format, version, installation id and key
 * fingerprint stay readable.
 *
 * @example
 * await writeFile(path, encodeRecordFile(record, key));
 */
export function encodeRecordFile(record: InstallationRecord, key?: Uint8Array): Uint8Array {
  const installationId = canonicalInstallationId(record.installationId);
  const head = { format: RECORD_FORMAT, version: RECORD_VERSION, installationId };
  if (!key) return Buffer.from(`${JSON.stringify({ ...head, enc: 'none', record })}\n`);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(installationId));
  const data = Buffer.concat([cipher.update(JSON.stringify(record)), cipher.final()]);
  const sealed = {
    ...head, enc: 'aes-256-gcm', kid: keyId(key),
    iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64'),
  };
  return Buffer.from(`${JSON.stringify(sealed)}\n`);
}

/**
 * Parses and (when sealed) decrypts a record file, checking that it is ours, complete, and holds the
 * installation its name says. Throws `StoreCorruptError` or `StoreKeyError` naming `path`.
 *
 * @example
 * const { record } = decodeRecordFile(await readFile(path), path, expectedId, key);
 */
export function decodeRecordFile(
  bytes: Uint8Array, path: string, expectedId: string, key?: Uint8Array,
): DecodedRecord {
  const envelope = parseEnvelope(bytes, path);
  if (envelope.installationId.toLowerCase() !== expectedId) {
    throw new StoreCorruptError(path, `holds installation ${envelope.installationId}, not the one its name says`);
  }
  if (envelope.enc === 'none') {
    return { record: checkRecord(envelope.record, path, expectedId), encrypted: false };
  }
  if (!key) throw new StoreKeyError(path, `encrypted (key ${envelope.kid}) but no TOKEN_STORE_KEY is configured`, { wrongKey: true });
  if (envelope.kid !== keyId(key)) {
    throw new StoreKeyError(path, `encrypted with another key (${envelope.kid}); the configured key is ${keyId(key)}`, { wrongKey: true });
  }
  let clear: Buffer;
  try {
    const iv = Buffer.from(envelope.iv ?? '', 'base64');
    const tag = Buffer.from(envelope.tag ?? '', 'base64');
    // Exactly what encodeRecordFile writes: without authTagLength, GCM accepts a tag cut to 4 bytes (a
    // prefix of the real one verifies), leaving tamper detection 32 bits strong.
    if (iv.length !== 12 || tag.length !== 16) throw new Error(`iv of ${iv.length} bytes or tag of ${tag.length} bytes (12 and 16 expected)`);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAAD(aad(envelope.installationId));
    decipher.setAuthTag(tag);
    clear = Buffer.concat([decipher.update(Buffer.from(envelope.data ?? '', 'base64')), decipher.final()]);
  } catch (cause) {
    throw new StoreKeyError(path, 'cannot be decrypted: the bytes were altered or truncated (authentication failed)', { cause });
  }
  let record: unknown;
  try {
    record = JSON.parse(clear.toString('utf8'));
  } catch (cause) {
    throw new StoreCorruptError(path, 'decrypted content is not JSON', { cause });
  }
  return { record: checkRecord(record, path, expectedId), encrypted: true };
}

function parseEnvelope(bytes: Uint8Array, path: string): Envelope {
  if (bytes.length === 0) throw new StoreCorruptError(path, 'is empty (truncated write?)');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new StoreCorruptError(path, `is not valid JSON (${bytes.length} bytes; truncated or corrupted)`, { cause });
  }
  if (!isObject(value) || value['format'] !== RECORD_FORMAT) {
    throw new StoreCorruptError(path, `is not a ${RECORD_FORMAT} file (foreign file?)`);
  }
  if (value['version'] !== RECORD_VERSION) {
    throw new StoreCorruptError(path, `has unsupported version ${JSON.stringify(value['version'])} (this code reads ${RECORD_VERSION})`);
  }
  if (!isInstallationId(value['installationId'])) throw new StoreCorruptError(path, 'has no valid installationId');
  const enc = value['enc'];
  if (enc === 'none') return value as unknown as Envelope;
  if (enc === 'aes-256-gcm') {
    for (const field of ['kid', 'iv', 'tag', 'data']) {
      if (typeof value[field] !== 'string') throw new StoreCorruptError(path, `encrypted record lacks "${field}"`);
    }
    return value as unknown as Envelope;
  }
  throw new StoreCorruptError(path, `has unknown encryption ${JSON.stringify(enc)}`);
}

function checkRecord(value: unknown, path: string, expectedId: string): InstallationRecord {
  if (!isObject(value) || typeof value['installationId'] !== 'string'
    || value['installationId'].toLowerCase() !== expectedId) {
    throw new StoreCorruptError(path, 'record body is missing or names another installation');
  }
  return value as unknown as InstallationRecord;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
