import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyId, parseStoreKey, StoreKeyFormatError } from './key.ts';

describe('parseStoreKey', () => {
  const raw = randomBytes(32);

  it('accepts 64 hex characters (either case) and trims whitespace', () => {
    assert.deepEqual(Buffer.from(parseStoreKey(raw.toString('hex'))), raw);
    assert.deepEqual(Buffer.from(parseStoreKey(` ${raw.toString('hex').toUpperCase()}\n`)), raw);
  });

  it('accepts standard and URL-safe base64, padded or not', () => {
    const b64 = raw.toString('base64');
    for (const text of [b64, b64.replace(/=$/, ''), raw.toString('base64url')]) {
      assert.deepEqual(Buffer.from(parseStoreKey(text)), raw, text.length.toString());
    }
  });

  it('refuses anything that is not exactly 32 bytes, without echoing it', () => {
    const secretish = 'correct horse battery staple';
    const bad = [secretish, randomBytes(31).toString('hex'), randomBytes(33).toString('hex'), randomBytes(16).toString('base64'),
      randomBytes(48).toString('base64'), '', raw.toString('hex').slice(0, 63) + 'g'];
    for (const text of bad) {
      assert.throws(() => parseStoreKey(text), (e: unknown) => e instanceof StoreKeyFormatError && !e.message.includes(secretish));
    }
  });

  it('refuses non-canonical base64 (non-zero padding bits)', () => {
    const b64 = Buffer.alloc(32).toString('base64'); // 'AAAA…AAA='
    assert.throws(() => parseStoreKey(b64.slice(0, 42) + 'B='), StoreKeyFormatError);
  });

  it('keyId is stable, short and differs between keys', () => {
    assert.equal(keyId(raw), keyId(Buffer.from(raw)));
    assert.match(keyId(raw), /^[0-9a-f]{16}$/);
    assert.notEqual(keyId(raw), keyId(randomBytes(32)));
  });
});
