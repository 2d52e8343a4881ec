/**
 * The token bucket's invariant, with a driven clock (STYLE.md practice 10) and generated arrival
 * patterns: over any run, admitted ≤ burst + rate·elapsed, and a request is refused only when
 * fewer than one token can exist (so the bucket never refuses below its limit).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LocalBucket } from '../../src/gateway/throttle-bucket.js';
import { leaseSize } from '../../src/gateway/throttle-redis.js';
import { resolveMethodLimits, shareOf, DEFAULT_ACCOUNT_LIMITS } from '../../src/gateway/throttle-settings.js';

describe('token bucket', () => {
  it('never admits more than burst + rate·elapsed, and refuses only when empty (generated arrivals)', () => {
    fc.assert(
      fc.property(
        fc.record({ rate: fc.double({ min: 0, max: 1000, noNaN: true }), burst: fc.integer({ min: 0, max: 50 }) }),
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 200 }), requests: fc.integer({ min: 0, max: 20 }) }), { maxLength: 40 }),
        ({ rate, burst }, arrivals) => {
          let now = 0;
          const bucket = new LocalBucket({ rateLimit: rate, burstLimit: burst }, () => now);
          let admitted = 0;
          // An independent model: tokens as a real number, capped at burst.
          let model = burst;
          for (const { gapMs, requests } of arrivals) {
            now += gapMs;
            model = Math.min(burst, model + (gapMs * rate) / 1000);
            for (let i = 0; i < requests; i++) {
              const ok = bucket.take();
              // Float rounding may differ from the model's right at one token: compare outside a hair's width.
              if (Math.abs(model - 1) > 1e-6) assert.equal(ok, model > 1, `model ${model} at ${now} ms`);
              if (ok) {
                admitted++;
                model -= 1;
              }
            }
            assert.ok(admitted <= burst + (rate * now) / 1000 + 1e-6, `${admitted} admitted by ${now} ms`);
          }
        },
      ),
      { seed: 15, numRuns: 300 },
    );
  });

  it('leases are at least 1, at most a tenth of the burst (when that is ≥ 1) and 1,000', () => {
    assert.equal(leaseSize({ rateLimit: 10_000, burstLimit: 5_000 }), 500);
    assert.equal(leaseSize({ rateLimit: 1, burstLimit: 1 }), 1);
    assert.equal(leaseSize({ rateLimit: 1e9, burstLimit: 1e9 }), 1_000);
    assert.equal(leaseSize({ rateLimit: 100, burstLimit: 20 }), 2);
  });

  it('a thread\'s share of a limit (shared table full): rate divided, burst rounded up', () => {
    assert.deepEqual(shareOf({ rateLimit: 100, burstLimit: 5 }, 2), { rateLimit: 50, burstLimit: 3 });
    assert.deepEqual(shareOf({ rateLimit: 100, burstLimit: 5 }, 1), { rateLimit: 100, burstLimit: 5 });
  });

  it('settings merge: */* < path/ANY < path/METHOD, HEAD follows GET, unset fields are the account\'s', () => {
    const stage = {
      variables: {}, cacheClusterEnabled: false, cacheClusterSize: '0.5' as const,
      methodSettings: { '*/*': { throttlingRateLimit: 50 }, 'a/ANY': { throttlingBurstLimit: 7 }, 'a/GET': { throttlingRateLimit: 5 } },
    };
    assert.deepEqual(resolveMethodLimits(stage, '/a', 'HEAD', DEFAULT_ACCOUNT_LIMITS), { rateLimit: 5, burstLimit: 7 });
    assert.deepEqual(resolveMethodLimits(stage, '/a', 'POST', DEFAULT_ACCOUNT_LIMITS), { rateLimit: 50, burstLimit: 7 });
    assert.deepEqual(resolveMethodLimits(stage, '/b', 'GET', DEFAULT_ACCOUNT_LIMITS), { rateLimit: 50, burstLimit: 5_000 });
    assert.equal(resolveMethodLimits({ ...stage, methodSettings: {} }, '/a', 'GET', DEFAULT_ACCOUNT_LIMITS), undefined);
  });
});
