/**
 * Micro-benchmark of the memory store's LRU, get-heavy (90 % gets of present keys, 10 % replacing
 * sets), at 1k and 1M entries, against two alternatives:
 *  - map-reinsert: a Map re-inserted on every hit (insertion order as recency);
 *  - lru-cache v11 with maxSize + sizeCalculation (only when it can be imported: it is not a
 *    dependency; `npm install --prefix /tmp/lru lru-cache@11` and set LRU_CACHE_MODULE to
 *    /tmp/lru/node_modules/lru-cache/dist/esm/index.js).
 * Reports throughput and the slowest batch of 1,000 operations (a rehash or GC pause shows there).
 *
 *   npx tsc -p . && node --expose-gc dist/bench/store-micro.js
 */
import { entrySize, CACHE_ENTRY_VERSION, type CacheEntry } from '../src/cache/entry.js';
import { MemoryStore } from '../src/cache/stores/memory.js';

interface Candidate {
  readonly name: string;
  get(key: string): CacheEntry | undefined;
  set(key: string, entry: CacheEntry): void;
}

const STAGE = 'api\u0000prod';
const BODY = Buffer.alloc(256, 'x');
const HEADERS: CacheEntry['headers'] = [['content-type', 'application/json']];
const BATCH = 1_000;

function makeEntry(): CacheEntry {
  return { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: HEADERS, body: BODY, storedAt: 0, staleAt: 8.64e15, deleteAt: 8.64e15 };
}

function memoryStore(capacityBytes: number): Candidate {
  const store = new MemoryStore();
  store.configureStage(STAGE, capacityBytes);
  return { name: 'MemoryStore (linked list)', get: (key) => store.get(STAGE, key), set: (key, entry) => store.set(STAGE, key, entry) };
}

/** The simplest LRU on a Map: delete and re-set on a hit; the first key is the oldest. */
function mapReinsert(capacityBytes: number): Candidate {
  const slots = new Map<string, { entry: CacheEntry; size: number }>();
  // Like the store, look the stage's space up on every call.
  const spaces = new Map([[STAGE, slots]]);
  let bytes = 0;
  return {
    name: 'map-reinsert',
    get(key) {
      const slot = spaces.get(STAGE)!.get(key);
      if (slot === undefined || Date.now() >= slot.entry.deleteAt) return undefined;
      slots.delete(key);
      slots.set(key, slot);
      return slot.entry;
    },
    set(key, entry) {
      const old = slots.get(key);
      if (old) {
        slots.delete(key);
        bytes -= old.size;
      }
      const size = entrySize(key, entry);
      while (bytes + size > capacityBytes) {
        const [oldestKey, oldest] = slots.entries().next().value as [string, { size: number }];
        slots.delete(oldestKey);
        bytes -= oldest.size;
      }
      slots.set(key, { entry, size });
      bytes += size;
    },
  };
}

interface LruCacheLike {
  get(key: string): CacheEntry | undefined;
  set(key: string, value: CacheEntry): unknown;
}
type LruCacheClass = new (options: { maxSize: number; sizeCalculation: (value: CacheEntry, key: string) => number }) => LruCacheLike;

async function loadLruCache(): Promise<LruCacheClass | undefined> {
  const specifier = process.env.LRU_CACHE_MODULE ?? 'lru-cache';
  try {
    const module = (await import(specifier)) as { LRUCache: LruCacheClass };
    return module.LRUCache;
  } catch {
    return undefined;
  }
}

function lruCache(LRUCache: LruCacheClass, capacityBytes: number): Candidate {
  const cache = new LRUCache({ maxSize: capacityBytes, sizeCalculation: (entry, key) => entrySize(key, entry) });
  // One cache per stage space, as the store would need: looked up on every call.
  const spaces = new Map([[STAGE, cache]]);
  return {
    name: 'lru-cache v11',
    get(key) {
      const entry = spaces.get(STAGE)!.get(key);
      return entry === undefined || Date.now() >= entry.deleteAt ? undefined : entry;
    },
    set: (key, entry) => void spaces.get(STAGE)!.set(key, entry),
  };
}

function run(candidate: Candidate, keys: readonly string[], entries: readonly CacheEntry[], ops: number, seed: number): { opsPerSecond: number; worstBatchMs: number; hitRate: number } {
  for (let i = 0; i < keys.length; i++) candidate.set(keys[i]!, entries[i]!);
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
  const picks = new Uint32Array(ops);
  const writes = new Uint8Array(ops);
  for (let i = 0; i < ops; i++) {
    picks[i] = Math.floor(random() * keys.length);
    writes[i] = random() < 0.1 ? 1 : 0;
  }
  let hits = 0;
  let worst = 0;
  const started = process.hrtime.bigint();
  for (let batch = 0; batch < ops; batch += BATCH) {
    const batchStart = process.hrtime.bigint();
    const end = Math.min(ops, batch + BATCH);
    for (let i = batch; i < end; i++) {
      const key = keys[picks[i]!]!;
      if (writes[i] === 1) candidate.set(key, entries[picks[i]!]!);
      else if (candidate.get(key) !== undefined) hits++;
    }
    const ms = Number(process.hrtime.bigint() - batchStart) / 1e6;
    if (ms > worst) worst = ms;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { opsPerSecond: ops / seconds, worstBatchMs: worst, hitRate: hits / (ops * 0.9) };
}

async function main(): Promise<void> {
  const LRUCache = await loadLruCache();
  if (!LRUCache) console.log('lru-cache not importable: set LRU_CACHE_MODULE to compare with it\n');
  const gc = (globalThis as { gc?: () => void }).gc;

  for (const count of [1_000, 1_000_000]) {
    const keys = Array.from({ length: count }, (_, i) => `GET|5:/pets|p5:petId${String(i).length}:${i}`);
    const entries = keys.map(() => makeEntry());
    const perEntry = entrySize(keys[keys.length - 1]!, entries[0]!);
    const ops = count === 1_000 ? 5_000_000 : 3_000_000;
    // Everything fits (pure get/replace), then a budget of 90 % (every new set evicts).
    for (const fill of [1.0, 0.9]) {
      const capacity = Math.floor(count * perEntry * fill * 1.01);
      const factories: ((capacity: number) => Candidate)[] = [memoryStore, mapReinsert];
      if (LRUCache) factories.push((c) => lruCache(LRUCache, c));
      for (const factory of factories) {
        // Best of two runs: the machine may be shared.
        let result: ReturnType<typeof run> | undefined;
        let candidate: Candidate | undefined;
        for (let round = 0; round < 2; round++) {
          gc?.();
          candidate = factory(capacity);
          const attempt = run(candidate, keys, entries, ops, 42 + round);
          if (!result || attempt.opsPerSecond > result.opsPerSecond) result = attempt;
        }
        if (!result || !candidate) continue;
        console.log(
          `${count.toLocaleString('en')} entries, budget ${Math.round(fill * 100)} %: ${candidate.name.padEnd(26)} ` +
            `${(result.opsPerSecond / 1e6).toFixed(2)} M ops/s, worst batch of ${BATCH}: ${result.worstBatchMs.toFixed(2)} ms, ` +
            `hit rate ${(result.hitRate * 100).toFixed(1)} %`,
        );
      }
    }
  }
}

await main();
