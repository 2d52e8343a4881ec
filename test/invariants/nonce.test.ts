/**
 * SPEC §7 "no per-request work grows with history", for Alibaba nonces (issue 13 defect 5: every
 * signed request walked every nonce of the last 15 minutes). Generated histories of claims —
 * apps, reused nonces, timestamps anywhere in the ±15 min window, clock jumps, tight limits —
 * checked against a plain reference model, and the work counted (records visited by sweeps).
 *
 * Run once, not per gateway thread count (issue 17): this is the record itself, with no gateway.
 * With several threads every claim is still made on this one MemoryNonceStore, kept by the main
 * thread (cli/workers.ts mainThreadNonces; other threads relay, with a bounded number waiting), so
 * the work per claim is the same; a replay sent to another thread is test/alibaba/nonce-shared's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryNonceStore } from '../../src/auth/nonces/memory.js';
import { NONCE_WINDOW_MS } from '../../src/auth/nonces/nonce-store.js';

const SEED = 20261202;

/**
 * The obvious implementation: every record, scanned on every claim. A record refuses replays until
 * its expiry exactly, and stops counting toward its app's limit by the next whole second.
 */
class ReferenceNonces {
  private readonly records = new Map<string, { appId: string; expiresAt: number }>();
  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): string {
    for (const [key, record] of this.records) if (Math.ceil(record.expiresAt / 1000) * 1000 <= now) this.records.delete(key);
    const key = `${appId}\u0000${nonce}`;
    const known = this.records.get(key);
    if (known && known.expiresAt > now) return 'replayed';
    if (!known && [...this.records.values()].filter((record) => record.appId === appId).length >= limit) return 'full';
    this.records.set(key, { appId, expiresAt });
    return 'fresh';
  }
}

const claimArb = fc.record({
  appId: fc.constantFrom('1001', '1002', 'a\u0000b'.slice(0, 1), '2001'),
  nonce: fc.oneof(fc.constantFrom('n1', 'n2', 'n3', ''), fc.string({ maxLength: 8 })),
  // The timestamp anywhere in Alibaba's window around now; the record lives until it + 15 min.
  skewMs: fc.integer({ min: -NONCE_WINDOW_MS + 1, max: NONCE_WINDOW_MS }),
  // Time passing before the claim: none, a little, a bucket edge, a window, a long pause.
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5_000 }), fc.constantFrom(999, 1000, 1001, NONCE_WINDOW_MS, 2 * NONCE_WINDOW_MS + 1000, 86_400_000)),
});

describe('invariant: Alibaba nonce records', () => {
  it('answer as the reference model does, for any history (replays, apps, skew, limits, pauses)', () => {
    fc.assert(
      fc.property(fc.array(claimArb, { maxLength: 200 }), fc.integer({ min: 1, max: 6 }), (claims, limit) => {
        const store = new MemoryNonceStore();
        const reference = new ReferenceNonces();
        let now = 1_800_000_000_000;
        for (const claim of claims) {
          now += claim.advanceMs;
          const expiresAt = now + claim.skewMs + NONCE_WINDOW_MS;
          const expected = reference.claim(claim.appId, claim.nonce, expiresAt, limit, now);
          assert.equal(store.claim(claim.appId, claim.nonce, expiresAt, limit, now), expected);
        }
        // Each record is looked at by a sweep at most once per time it was made.
        assert.ok(store.visited <= claims.length, `visited ${store.visited} for ${claims.length} claims`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('costs the same per claim after an hour of fresh nonces as in the first second (records visited, not time)', () => {
    const store = new MemoryNonceStore();
    const perSecond = 200;
    let now = 1_800_000_000_000;
    let claims = 0;
    const visitedIn = (seconds: number) => {
      const before = store.visited;
      const start = claims;
      for (let s = 0; s < seconds; s++, now += 1000) {
        for (let i = 0; i < perSecond; i++, claims++) assert.equal(store.claim('1001', `n${claims}`, now + NONCE_WINDOW_MS, 1_000_000, now), 'fresh');
      }
      return (store.visited - before) / (claims - start);
    };
    const first = visitedIn(1);
    visitedIn(60 * 60 - 2);
    const last = visitedIn(1);
    // The old check visited every live record (180,000 here) on every claim; now ≤ 1 per claim.
    assert.ok(first <= 1 && last <= 1, `records visited per claim: first second ${first}, after an hour ${last}`);
    assert.ok(store.size <= perSecond * (NONCE_WINDOW_MS / 1000 + 1), `live records ${store.size} stay within one window`);
  });
});
