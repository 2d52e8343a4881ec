/**
 * FallbackNonceStore's backlog (a3/store finding 1): nonces admitted from local memory while the
 * shared store failed are written to it once it answers again, and the backlog stays bounded
 * however long the outage lasts.
 *
 * Run once, not per gateway thread count (issue 17): the store is driven directly, no gateway and
 * no threads are involved; each thread's fallback is this same object.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKLOG_LIMIT, FallbackNonceStore } from '../../src/auth/nonces/fallback.js';
import type { NonceStore, NonceVerdict } from '../../src/auth/nonces/nonce-store.js';

class FlakyShared implements NonceStore {
  up = false;
  readonly records = new Set<string>();
  claim(appId: string, nonce: string): Promise<NonceVerdict> {
    if (!this.up) return Promise.reject(new Error('away'));
    const key = `${appId}/${nonce}`;
    if (this.records.has(key)) return Promise.resolve('replayed');
    this.records.add(key);
    return Promise.resolve('fresh');
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('FallbackNonceStore backlog', () => {
  it('writes what it admitted during the outage to the shared store once it answers', async () => {
    const shared = new FlakyShared();
    const store = new FallbackNonceStore(shared, () => undefined);
    const now = Date.now();
    for (let i = 0; i < 250; i++) assert.equal(await store.claim('a', `n${i}`, now + 60_000, 1e6, now), 'fresh');
    // One already expired by the time it answers: not sent.
    assert.equal(await store.claim('a', 'old', now + 10, 1e6, now), 'fresh');
    shared.up = true;
    assert.equal(await store.claim('a', 'after', now + 60_000, 1e6, now + 100), 'fresh');
    for (let i = 0; i < 10 && shared.records.size < 251; i++) await settle();
    assert.equal(shared.records.size, 251);
    assert.ok(shared.records.has('a/n0') && shared.records.has('a/n249') && !shared.records.has('a/old'));
  });

  it('keeps at most BACKLOG_LIMIT records, dropping the oldest (counted)', async () => {
    const shared = new FlakyShared();
    const store = new FallbackNonceStore(shared, () => undefined);
    const now = Date.now();
    const over = 1000;
    for (let i = 0; i < BACKLOG_LIMIT + over; i++) await store.claim('a', `n${i}`, now + 60_000, 1e9, now);
    assert.equal(store.dropped, over);
    assert.equal((store as unknown as { backlog: unknown[] }).backlog.length, BACKLOG_LIMIT);
  });
});
