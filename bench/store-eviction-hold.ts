/**
 * How long one write holds the shared store's lock when the arena is full of small entries: a
 * 1 MiB entry evicts ~4,000 of them, and every other thread's hit waits that long. Run after a
 * build: `node dist/bench/store-eviction-hold.js`. Each eviction once scanned every stage slot
 * (maxStages, 4,096 by default) for the least recently used space; it scans the slots ever claimed.
 */
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../src/cache/entry.js';
import { SharedStore } from '../src/cache/stores/shared/shared-store.js';

for (const maxStages of [4096, 16]) {
  const store = new SharedStore({ arenaBytes: 16 * 2 ** 20, maxStages });
  store.configureStage('a', 32 * 2 ** 20);
  store.configureStage('b', 32 * 2 ** 20);
  const small: CacheEntry = { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [], body: Buffer.alloc(150), storedAt: 0, staleAt: 1e15, deleteAt: 1e15 };
  for (let n = 0; n < 150_000; n++) store.set('a', `k${n}`, small);
  const before = store.stats('a')!.evictions;
  const started = process.hrtime.bigint();
  store.set('b', 'big', { ...small, body: Buffer.alloc(2 ** 20) });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`maxStages ${maxStages}: one 1 MiB write evicted ${store.stats('a')!.evictions - before} entries, lock held ${ms.toFixed(1)} ms\n`);
}
