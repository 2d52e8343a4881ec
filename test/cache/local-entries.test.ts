/** Redis in-process copies (store.localCacheMs) are bounded by bytes, not only by count (SPEC §7). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { LocalEntries, MAX_LOCAL_BYTES } from '../../src/cache/stores/redis/local-entries.js';

const entry = (bytes: number): CacheEntry => ({ version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [], body: Buffer.alloc(bytes), storedAt: 0, staleAt: 1e15, deleteAt: 1e15 });

describe('LocalEntries', () => {
  it('keeps copies of 1 MB answers within MAX_LOCAL_BYTES, dropping the oldest first', () => {
    const local = new LocalEntries(60_000);
    for (let i = 0; i < 100; i++) {
      local.set(LocalEntries.id('s', 1, `k${i}`), entry(1024 * 1024), 0);
      assert.ok(local.countedBytes <= MAX_LOCAL_BYTES, `${local.countedBytes} after ${i + 1}`);
    }
    assert.ok(local.get(LocalEntries.id('s', 1, 'k99'), 0));
    assert.equal(local.get(LocalEntries.id('s', 1, 'k0'), 0), undefined);
    local.forgetStage('s');
    assert.equal(local.countedBytes, 0);
  });
});
