/** Cache-Status (RFC 9211) and Age values, and the outcome vocabulary shared with metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ageSeconds,
  CACHE_OUTCOMES,
  cacheStatus,
  collapsedStatus,
  forwardStatus,
  hitStatus,
  staleIfErrorStatus,
  staleWhileRevalidateStatus,
  ttlSeconds,
  type ForwardOutcome,
  type NotStoredDetail,
} from '../../src/cache/status.js';

/**
 * One Cache-Status list member as RFC 9211 §2 defines it (an RFC 8941 token item with
 * parameters), restricted to the parameters this cache uses.
 */
const MEMBER = /^cachegate(?:; (?:hit|fwd=(?:bypass|method|uri-miss|vary-miss|miss|request|stale|partial)|fwd-status=\d{3}|ttl=-?\d+|stored|collapsed|detail=[a-z*][a-z0-9!#$%&'*+.^_`|~:/-]*))+$/;

describe('Cache-Status', () => {
  it('writes hits with the seconds of freshness left', () => {
    assert.equal(hitStatus(287), 'cachegate; hit; ttl=287');
    assert.equal(hitStatus(0), 'cachegate; hit; ttl=0');
  });

  it('writes stale answers with a negative ttl and how they came about', () => {
    assert.equal(staleWhileRevalidateStatus(-3), 'cachegate; hit; ttl=-3; detail=revalidating');
    assert.equal(staleIfErrorStatus(-30, 503), 'cachegate; hit; fwd=stale; fwd-status=503; ttl=-30; detail=stale-if-error');
    assert.equal(staleIfErrorStatus(-30), 'cachegate; hit; fwd=stale; ttl=-30; detail=stale-if-error', 'no fwd-status when the integration never answered');
  });

  it('writes forwarded requests with the reason and whether the response was stored', () => {
    assert.equal(forwardStatus('miss', 'stored'), 'cachegate; fwd=uri-miss; stored');
    assert.equal(forwardStatus('miss', 'too-large'), 'cachegate; fwd=uri-miss; detail=too-large');
    assert.equal(forwardStatus('refresh', 'stored'), 'cachegate; fwd=request; stored');
    assert.equal(forwardStatus('expired', 'stored'), 'cachegate; fwd=stale; stored');
    assert.equal(forwardStatus('bypass', 'store-unavailable'), 'cachegate; fwd=bypass; detail=store-unavailable');
    assert.equal(collapsedStatus('miss'), 'cachegate; fwd=uri-miss; collapsed');
  });

  it('returns the same constant string for the same outcome (no formatting per request)', () => {
    assert.equal(forwardStatus('miss', 'stored'), forwardStatus('miss', 'stored'));
    assert.equal(forwardStatus('miss', 'stored'), cacheStatus({ fwd: 'uri-miss', stored: true }));
  });

  it('only ever writes valid RFC 9211 members', () => {
    const outcomes: ForwardOutcome[] = ['miss', 'expired', 'refresh', 'bypass'];
    const results: ('stored' | NotStoredDetail)[] = ['stored', 'status', 'set-cookie', 'vary-star', 'vary', 'too-large', 'store-unavailable'];
    const values = [hitStatus(5), hitStatus(-1), staleWhileRevalidateStatus(-1), staleIfErrorStatus(-9, 502), staleIfErrorStatus(-9)];
    for (const outcome of outcomes) {
      values.push(collapsedStatus(outcome));
      for (const result of results) values.push(forwardStatus(outcome, result));
    }
    for (const value of values) assert.match(value, MEMBER);
  });

  it('names each outcome once, in words usable as metric label values', () => {
    assert.equal(new Set(CACHE_OUTCOMES).size, CACHE_OUTCOMES.length);
    for (const outcome of CACHE_OUTCOMES) assert.match(outcome, /^[a-z][a-z-]*$/);
    for (const expected of ['hit', 'miss', 'stale', 'bypass', 'refresh'] as const) assert.ok(CACHE_OUTCOMES.includes(expected));
  });
});

describe('ttl and Age', () => {
  const entry = { storedAt: 10_000, staleAt: 70_000 };

  it('rounds ttl down, so an entry past staleAt shows a negative ttl', () => {
    assert.equal(ttlSeconds(entry, 10_000), 60);
    assert.equal(ttlSeconds(entry, 15_000), 55);
    assert.equal(ttlSeconds(entry, 69_999), 0);
    assert.equal(ttlSeconds(entry, 70_000), 0);
    assert.equal(ttlSeconds(entry, 70_001), -1);
    assert.equal(ttlSeconds(entry, 73_000), -3);
  });

  it('gives Age in whole seconds since storing, never negative', () => {
    assert.equal(ageSeconds(entry, 10_000), 0);
    assert.equal(ageSeconds(entry, 15_999), 5);
    assert.equal(ageSeconds(entry, 9_000), 0);
  });
});
