import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign, verify } from './signature.ts';
import { PyFloat, sentryJson } from './json.ts';

// Vectors from shared/reference/sentry-platform.md §4.3.
const SECRET = '3a2f9ee3b0a84e8c9b1d8f0e2c6a7b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b';
const VECTOR_1 = '{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"installation":{"app":{"uuid":"2ebf071f-28df-4989-aca9-c37c763b278f","slug":"webhooks-galore"},"organization":{"slug":"test-org","id":5},"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de","status":"pending","code":"f3c71b491e3949b6b033ae45312a4fcb"}},"actor":{"type":"user","id":1,"name":"Meredith Heller"}}';
const VECTOR_2 = '{"action":"created","installation":{"uuid":"eac5a0ae-60ec-418f-9318-46dc5e7e52ec"},"data":{"comment_id":1234,"issue_id":100,"project_slug":"sentry","timestamp":"2022-03-02T21:51:44.118160Z","comment":"\\u00dcber \\ud83d\\ude80"},"actor":{"type":"user","id":1,"name":"colleen"}}';

describe('sign', () => {
  it('reproduces vector 1 byte for byte', () => {
    assert.equal(Buffer.byteLength(VECTOR_1), 393);
    assert.equal(sign(SECRET, VECTOR_1), '9b68b7bc3a04d0823d787e0cf8a906f33d5efb464f2a171778e1cdd64b31cc20');
  });
  it('reproduces vector 2 (non-ASCII escaped) and differs from the re-serialised body', () => {
    assert.equal(Buffer.byteLength(VECTOR_2), 274);
    assert.equal(sign(SECRET, VECTOR_2), '98ce392efce99d2e2a214924e1e6eb9f7014795394612c96cb1590a071de78b5');
    const reserialised = JSON.stringify(JSON.parse(VECTOR_2));
    assert.equal(Buffer.byteLength(reserialised), 262);
    assert.equal(sign(SECRET, reserialised), 'dc3c5b50aa824266b3e7717d65fd12c4a180fedebb67658f5bd52b61030e9a0a');
  });
  it('signs bytes and strings alike', () => {
    assert.equal(sign(SECRET, Buffer.from(VECTOR_2)), sign(SECRET, VECTOR_2));
  });
});

describe('sentryJson', () => {
  it('reproduces both vectors from their parsed objects', () => {
    assert.equal(sentryJson(JSON.parse(VECTOR_1)), VECTOR_1);
    assert.equal(sentryJson(JSON.parse(VECTOR_2)), VECTOR_2);
  });
  it('escapes control characters, quotes and DEL like Python', () => {
    assert.equal(sentryJson({ a: 'x"\\\n\t\u0001\u007f' }), '{"a":"x\\"\\\\\\n\\t\\u0001\\u007f"}');
  });
  it('prints floats as Python repr does', () => {
    assert.equal(sentryJson([5e-8, 0.0001, 0.00001, 1.5, -2.25e-7, new PyFloat(3), new PyFloat(1e16), 1e16]),
      '[5e-08,0.0001,1e-05,1.5,-2.25e-07,3.0,1e+16,10000000000000000]');
  });
  it('prints NaN as null and skips undefined keys', () => {
    assert.equal(sentryJson({ a: Number.NaN, b: undefined, c: [1, true, null] }), '{"a":null,"c":[1,true,null]}');
  });
});

describe('verify', () => {
  const good = sign(SECRET, VECTOR_2);
  it('accepts the right signature over the raw bytes', () => {
    assert.equal(verify(SECRET, Buffer.from(VECTOR_2), good), true);
  });
  it('rejects a tampered byte', () => {
    assert.equal(verify(SECRET, VECTOR_2.replace('1234', '1235'), good), false);
  });
  it('rejects missing, empty, short, long, non-hex and array signatures without throwing', () => {
    for (const bad of [undefined, null, '', good.slice(0, 63), `${good}0`, `${good.slice(0, 63)}g`, [good]]) {
      assert.equal(verify(SECRET, VECTOR_2, bad as string), false, String(bad));
    }
  });
  it('rejects uppercase hex unless allowed', () => {
    assert.equal(verify(SECRET, VECTOR_2, good.toUpperCase()), false);
    assert.equal(verify(SECRET, VECTOR_2, good.toUpperCase(), { allowUppercase: true }), true);
  });
  it('accepts any of several secrets during a rotation, and ignores empty ones', () => {
    assert.equal(verify(['', 'old-secret', SECRET], VECTOR_2, good), true);
    assert.equal(verify(['', 'old-secret'], VECTOR_2, good), false);
  });
  it('verifies an empty body signed as ""', () => {
    assert.equal(verify(SECRET, '', sign(SECRET, '')), true);
  });
});
