/** MemoryStore: the store contract, plus what only the in-process store promises. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CACHE_ENTRY_VERSION, entrySize, type CacheEntry } from '../../src/cache/entry.js';
import { stageId } from '../../src/cache/store.js';
import { MemoryStore } from '../../src/cache/stores/memory.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('MemoryStore', ({ now }) => new MemoryStore({ now }));

const STAGE = stageId('petstore', 'prod');

function entry(body: string, deleteAt = 10_000): CacheEntry {
  return { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'text/plain']], body: Buffer.from(body), storedAt: 0, staleAt: deleteAt / 2, deleteAt };
}

describe('MemoryStore', () => {
  it('answers synchronously and hands back the stored object itself (no copy on a hit)', () => {
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, 1 << 20);
    const stored = entry('body');
    assert.equal(store.set(STAGE, 'k', stored), undefined);
    const found = store.get(STAGE, 'k');
    assert.ok(!(found instanceof Promise));
    assert.equal(found, stored);
    assert.equal(found?.body, stored.body);
  });

  it('counts exactly entrySize (key, headers, body) against the budget', () => {
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, 1 << 20);
    store.set(STAGE, 'key-one', entry('a'.repeat(100)));
    store.set(STAGE, 'key-two', entry('b'.repeat(300)));
    assert.equal(store.stats(STAGE)?.bytes, entrySize('key-one', entry('a'.repeat(100))) + entrySize('key-two', entry('b'.repeat(300))));
  });

  it('fills the budget exactly: an entry that just fits evicts nothing', () => {
    const size = entrySize('a', entry('x'));
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, 2 * size);
    store.set(STAGE, 'a', entry('x'));
    store.set(STAGE, 'b', entry('x'));
    assert.deepEqual([store.stats(STAGE)?.entries, store.stats(STAGE)?.evictions], [2, 0]);
    store.set(STAGE, 'c', entry('x'));
    assert.deepEqual([store.stats(STAGE)?.entries, store.stats(STAGE)?.evictions], [2, 1]);
    assert.equal(store.get(STAGE, 'a'), undefined);
  });

  it('counts expired entries leaving as expirations, not evictions', () => {
    const clock = { now: 0 };
    const size = entrySize('a', entry('x'));
    const store = new MemoryStore({ now: () => clock.now });
    store.configureStage(STAGE, 2 * size);
    store.set(STAGE, 'a', entry('x', 1_000));
    store.set(STAGE, 'b', entry('x', 1_000));
    clock.now = 1_000;
    store.set(STAGE, 'c', entry('x', 5_000)); // pushes out a, which had expired
    assert.equal(store.get(STAGE, 'b'), undefined); // met on a get
    const stats = store.stats(STAGE)!;
    assert.deepEqual([stats.evictions, stats.expirations, stats.entries], [0, 2, 1]);
  });

  it('keeps eviction and expiration counts across a flush and a resize (monotonic counters)', () => {
    const size = entrySize('a', entry('x'));
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, size);
    store.set(STAGE, 'a', entry('x'));
    store.set(STAGE, 'b', entry('x'));
    store.flush(STAGE);
    store.configureStage(STAGE, 2 * size);
    assert.equal(store.stats(STAGE)?.evictions, 1);
  });

  it('flushes a large stage and serves the next request at once', () => {
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, 1 << 30);
    const shared = entry('x');
    for (let i = 0; i < 100_000; i++) store.set(STAGE, `k${i}`, shared);
    store.flush(STAGE);
    assert.equal(store.stats(STAGE)?.entries, 0);
    assert.equal(store.get(STAGE, 'k99999'), undefined);
    store.set(STAGE, 'k1', shared);
    assert.equal(store.get(STAGE, 'k1'), shared);
  });

  it('keeps recency through replaces: a replaced entry becomes the most recently used', () => {
    const size = entrySize('a', entry('x'));
    const store = new MemoryStore({ now: () => 0 });
    store.configureStage(STAGE, 2 * size);
    store.set(STAGE, 'a', entry('x'));
    store.set(STAGE, 'b', entry('x'));
    store.set(STAGE, 'a', entry('y'));
    store.set(STAGE, 'c', entry('x'));
    assert.equal(store.get(STAGE, 'b'), undefined);
    assert.equal(store.get(STAGE, 'a')?.body.toString(), 'y');
  });
});

describe('MemoryStore: what an entry keeps is what it counts (SPEC §7)', () => {
  const sizeOf = (key: string, fields: Partial<CacheEntry>) => entrySize(key, { ...entry('x'), ...fields });

  it('counts a two-byte key and header value at two bytes a char (V8 keeps them so)', () => {
    const latin1 = sizeOf('k'.repeat(1000), {});
    const wide = sizeOf('\u2603'.repeat(1000), {});
    assert.ok(wide - latin1 >= 1000, `${wide} vs ${latin1}`);
    const plain = sizeOf('k', { headers: [['x-a', 'v'.repeat(500)]] });
    const wideHeader = sizeOf('k', { headers: [['x-a', '\u2603'.repeat(500)]] });
    // The value itself and its copy in the head block.
    assert.ok(wideHeader - plain >= 1000, `${wideHeader} vs ${plain}`);
  });

  it('counts every tag, and a backend tag also for its index record', () => {
    const none = sizeOf('k', {});
    const path = sizeOf('k', { tags: ['\u0000path\u0000/' + 'p'.repeat(100)] });
    const backend = sizeOf('k', { tags: ['b'.repeat(101 + 6)] });
    assert.ok(path - none >= 100);
    assert.ok(backend - path >= 200, 'an indexed tag costs its Set slot and record besides its string');
  });

  it('counts the head block a hit caches on the entry (status line, every header again)', () => {
    const one = sizeOf('k', { headers: [['x-a', 'v'.repeat(1000)]] });
    const bare = sizeOf('k', { headers: [] });
    assert.ok(one - bare >= 2000, 'the value, and its copy in the head block');
  });

  it('keeps a stage within its budget however long the keys: a long key evicts what it displaces', () => {
    const store = new MemoryStore({ now: () => 0 });
    const capacity = 64 * 1024;
    store.configureStage(STAGE, capacity);
    for (let i = 0; i < 100; i++) {
      store.set(STAGE, `${i}:${'\u00e9\u2603'.repeat(2000)}`, entry('x'));
      assert.ok(store.stats(STAGE)!.bytes <= capacity);
    }
    assert.ok(store.stats(STAGE)!.entries < 10, `${store.stats(STAGE)!.entries} entries of ~8 KB keys in 64 KB`);
  });
});
