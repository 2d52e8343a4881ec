/** The AWS cache policy: method settings, what is stored, entry times, freshness, client Cache-Control. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientCacheControl,
  entryTimes,
  freshness,
  MAX_CACHEABLE_BODY_BYTES,
  resolveMethodSettings,
  storability,
  type ResolvedMethodSettings,
} from '../../../../src/cache/policies/aws/rules.js';
import type { MethodSettingInput, StageConfig } from '../../../../src/config/schema.js';

function stage(methodSettings: Record<string, MethodSettingInput> = {}, cacheClusterEnabled = true): StageConfig {
  return { variables: {}, cacheClusterEnabled, cacheClusterSize: '0.5', methodSettings };
}

const defaults = resolveMethodSettings(stage(), '/pets', 'GET');

describe('resolveMethodSettings', () => {
  it('applies the AWS defaults to a GET of a stage with the cache on', () => {
    assert.equal(defaults.cachingEnabled, true);
    assert.equal(defaults.cacheTtlInSeconds, 300);
    assert.equal(defaults.cacheDataEncrypted, false);
    assert.equal(defaults.requireAuthorizationForCacheControl, true);
    assert.equal(defaults.unauthorizedCacheControlHeaderStrategy, 'SUCCEED_WITH_RESPONSE_HEADER');
    assert.equal(defaults.staleWhileRevalidateSeconds, 0);
    assert.equal(defaults.staleIfErrorSeconds, 0);
    assert.equal(defaults.cacheResponsesWithSetCookie, false);
    assert.equal(defaults.metricsEnabled, false);
    assert.ok(defaults.cacheableStatusCodes.has(200) && defaults.cacheableStatusCodes.has(299));
    assert.ok(!defaults.cacheableStatusCodes.has(304) && !defaults.cacheableStatusCodes.has(199));
    assert.ok(Object.isFrozen(defaults));
  });

  it('caches nothing on a stage with the cache off, whatever the method settings say', () => {
    const off = stage({ '*/*': { cachingEnabled: true }, 'pets/GET': { cachingEnabled: true } }, false);
    assert.equal(resolveMethodSettings(off, '/pets', 'GET').cachingEnabled, false);
  });

  it('does not cache POST from */* (SPEC §5), only from its own method setting', () => {
    const all = stage({ '*/*': { cachingEnabled: true, cacheTtlInSeconds: 60 } });
    assert.equal(resolveMethodSettings(all, '/pets', 'POST').cachingEnabled, false);
    const own = stage({ '*/*': { cacheTtlInSeconds: 60 }, 'pets/POST': { cachingEnabled: true } });
    const post = resolveMethodSettings(own, '/pets', 'POST');
    assert.equal(post.cachingEnabled, true);
    assert.equal(post.cacheTtlInSeconds, 60, 'other fields still come from */*');
    assert.equal(resolveMethodSettings(own, '/other', 'POST').cachingEnabled, false);
  });

  it('lets a method setting turn GET caching off, and */* too', () => {
    assert.equal(resolveMethodSettings(stage({ 'pets/GET': { cachingEnabled: false } }), '/pets', 'GET').cachingEnabled, false);
    assert.equal(resolveMethodSettings(stage({ '*/*': { cachingEnabled: false } }), '/pets', 'GET').cachingEnabled, false);
    const back = stage({ '*/*': { cachingEnabled: false }, 'pets/GET': { cachingEnabled: true } });
    assert.equal(resolveMethodSettings(back, '/pets', 'GET').cachingEnabled, true);
  });

  it('merges field by field, the most specific key winning: */* < {path}/ANY < {path}/{METHOD}', () => {
    const layered = stage({
      '*/*': { cacheTtlInSeconds: 100, cacheDataEncrypted: true, staleIfErrorSeconds: 30 },
      'pets/{petId}/ANY': { cacheTtlInSeconds: 200, requireAuthorizationForCacheControl: false },
      'pets/{petId}/GET': { cacheTtlInSeconds: 60 },
    });
    const get = resolveMethodSettings(layered, '/pets/{petId}', 'GET');
    assert.deepEqual(
      [get.cacheTtlInSeconds, get.cacheDataEncrypted, get.requireAuthorizationForCacheControl, get.staleIfErrorSeconds],
      [60, true, false, 30],
    );
    const del = resolveMethodSettings(layered, '/pets/{petId}', 'DELETE');
    assert.equal(del.cacheTtlInSeconds, 200);
  });

  it('lets an ANY key speak for GET caching, but not turn on caching of other methods', () => {
    const any = stage({ 'fn/ANY': { cachingEnabled: true, cacheTtlInSeconds: 30 } });
    assert.equal(resolveMethodSettings(any, '/fn', 'GET').cachingEnabled, true);
    assert.equal(resolveMethodSettings(any, '/fn', 'POST').cachingEnabled, false);
    const anyOff = stage({ 'fn/ANY': { cachingEnabled: false } });
    assert.equal(resolveMethodSettings(anyOff, '/fn', 'GET').cachingEnabled, false);
  });

  it('disables caching with a TTL of 0 (AWS)', () => {
    assert.equal(resolveMethodSettings(stage({ 'pets/GET': { cacheTtlInSeconds: 0 } }), '/pets', 'GET').cachingEnabled, false);
  });

  it('gives HEAD the settings of GET, whose entry answers it', () => {
    const s = stage({ 'pets/GET': { cacheTtlInSeconds: 42, cachingEnabled: true } });
    assert.deepEqual(resolveMethodSettings(s, '/pets', 'HEAD'), resolveMethodSettings(s, '/pets', 'GET'));
  });
});

const response = (statusCode: number, headers: Record<string, string | string[]> = {}, bodyLength?: number) => ({ statusCode, headers, bodyLength });

describe('storability', () => {
  it('stores 2xx and nothing else by default', () => {
    for (const status of [200, 201, 203, 204, 206, 299]) assert.deepEqual(storability(response(status), defaults), { store: true }, String(status));
    for (const status of [100, 301, 304, 404, 500, 503]) assert.deepEqual(storability(response(status), defaults), { store: false, reason: 'status' }, String(status));
  });

  it('stores the configured statuses instead when cacheableStatusCodes is set', () => {
    const s = resolveMethodSettings(stage({ '*/*': { cacheableStatusCodes: [200, 404] } }), '/p', 'GET');
    assert.equal(storability(response(404), s).store, true);
    assert.equal(storability(response(201), s).store, false);
  });

  it('does not store a response that sets a cookie, unless configured to', () => {
    assert.deepEqual(storability(response(200, { 'set-cookie': ['a=1'] }), defaults), { store: false, reason: 'set-cookie' });
    const s = resolveMethodSettings(stage({ '*/*': { cacheResponsesWithSetCookie: true } }), '/p', 'GET');
    assert.equal(storability(response(200, { 'set-cookie': ['a=1'] }), s).store, true);
  });

  it('never stores Vary: *, and ignores other Vary headers as AWS does', () => {
    for (const vary of ['*', 'Accept, *', ' * ', ['accept', '*']]) {
      assert.deepEqual(storability(response(200, { vary }), defaults), { store: false, reason: 'vary-star' }, String(vary));
    }
    assert.equal(storability(response(200, { vary: 'Accept-Encoding' }), defaults).store, true);
  });

  it('with the keyed header names, refuses a Vary on a header outside the key', () => {
    const keyed = new Set(['accept-language']);
    assert.equal(storability(response(200, { vary: 'Accept-Language' }), defaults, keyed).store, true);
    assert.deepEqual(storability(response(200, { vary: 'Accept-Language, Cookie' }), defaults, keyed), { store: false, reason: 'vary' });
  });

  it('stores a body of exactly 1,048,576 bytes but not one byte more', () => {
    assert.equal(MAX_CACHEABLE_BODY_BYTES, 1_048_576);
    assert.equal(storability(response(200, {}, MAX_CACHEABLE_BODY_BYTES), defaults).store, true);
    assert.deepEqual(storability(response(200, {}, MAX_CACHEABLE_BODY_BYTES + 1), defaults), { store: false, reason: 'too-large' });
  });
});

describe('entry times and freshness', () => {
  const windows = (swr: number, sie: number, ttl = 60): ResolvedMethodSettings =>
    resolveMethodSettings(stage({ '*/*': { cacheTtlInSeconds: ttl, staleWhileRevalidateSeconds: swr, staleIfErrorSeconds: sie } }), '/p', 'GET');

  it('keeps an entry for its TTL, then for the larger stale window', () => {
    assert.deepEqual(entryTimes(1_000, defaults), { storedAt: 1_000, staleAt: 301_000, deleteAt: 301_000 });
    assert.deepEqual(entryTimes(0, windows(10, 30)), { storedAt: 0, staleAt: 60_000, deleteAt: 90_000 });
    assert.deepEqual(entryTimes(0, windows(40, 5)), { storedAt: 0, staleAt: 60_000, deleteAt: 100_000 });
  });

  it('is fresh before staleAt, then serves stale while revalidating, then only if the integration fails', () => {
    const settings = windows(10, 30);
    const entry = entryTimes(0, settings);
    assert.equal(freshness(entry, 0, settings), 'fresh');
    assert.equal(freshness(entry, 59_999, settings), 'fresh');
    assert.equal(freshness(entry, 60_000, settings), 'stale-while-revalidate');
    assert.equal(freshness(entry, 69_999, settings), 'stale-while-revalidate');
    assert.equal(freshness(entry, 70_000, settings), 'stale-if-error-only');
    assert.equal(freshness(entry, 89_999, settings), 'stale-if-error-only');
    assert.equal(freshness(entry, 90_000, settings), 'expired');
  });

  it('is expired at staleAt without stale windows, and applies the current windows to older entries', () => {
    assert.equal(freshness(entryTimes(0, defaults), 300_000, defaults), 'expired');
    const stored = entryTimes(0, windows(30, 0));
    assert.equal(freshness(stored, 61_000, windows(30, 0)), 'stale-while-revalidate');
    assert.equal(freshness(stored, 61_000, windows(0, 0)), 'expired', 'window turned off since: no stale serving');
    assert.equal(freshness(stored, 95_000, windows(60, 0)), 'expired', 'never past deleteAt');
  });
});

describe('clientCacheControl', () => {
  it('asks for invalidation on max-age=0 or no-cache, in any case and among other directives', () => {
    for (const value of ['max-age=0', 'MAX-AGE=0', 'no-cache', 'No-Cache', 'public, max-age=0', 'max-stale, no-cache', 'max-age=00', 'max-age="0"', ' max-age=0 ']) {
      assert.equal(clientCacheControl({ 'cache-control': value }), 'invalidate', value);
    }
  });

  it('leaves other directives alone', () => {
    for (const value of ['max-age=10', 'max-age=', 'max-age', 'max-age=0x0', 'no-store', 'only-if-cached', 's-maxage=0', 'no-cachex', '']) {
      assert.equal(clientCacheControl({ 'cache-control': value }), 'none', value);
    }
    assert.equal(clientCacheControl({}), 'none');
  });

  it('honours Pragma: no-cache only without Cache-Control (RFC 9111 §5.4)', () => {
    assert.equal(clientCacheControl({ pragma: 'no-cache' }), 'invalidate');
    assert.equal(clientCacheControl({ pragma: 'NO-CACHE' }), 'invalidate');
    assert.equal(clientCacheControl({ pragma: 'x, no-cache' }), 'invalidate');
    assert.equal(clientCacheControl({ pragma: 'no-cache', 'cache-control': 'max-age=60' }), 'none');
    assert.equal(clientCacheControl({ pragma: 'x-no-cache' }), 'none');
  });
});
