import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codePointLength, nextQuotaReset } from './limits.ts';

describe('nextQuotaReset', () => {
  it('is 00:00 America/Chicago on the next 1st, DST-aware (documented header values)', () => {
    // 1393653600 = 2014-03-01 CST; 1451628000 = 2016-01-01 CST; 1535778000 = 2018-09-01 CDT.
    assert.equal(nextQuotaReset(Date.parse('2014-02-10T00:00:00Z')) / 1000, 1393653600);
    assert.equal(nextQuotaReset(Date.parse('2015-12-31T12:00:00Z')) / 1000, 1451628000);
    assert.equal(nextQuotaReset(Date.parse('2018-08-15T00:00:00Z')) / 1000, 1535778000);
  });
  it('at the reset instant moves to the following month; just before it stays', () => {
    assert.equal(nextQuotaReset(1535778000_000 - 1) / 1000, 1535778000);
    assert.equal(nextQuotaReset(1535778000_000), Date.parse('2018-10-01T05:00:00Z'));
    // Still 31 Dec in Chicago at 03:00 UTC on 1 Jan.
    assert.equal(nextQuotaReset(Date.parse('2016-01-01T03:00:00Z')) / 1000, 1451628000);
  });
});

describe('codePointLength', () => {
  it('counts an emoji as one', () => {
    assert.equal(codePointLength('a😀é'), 3);
    assert.equal(codePointLength(''), 0);
  });
});
