/**
 * Micro-benchmark of a cache hit through the Redis store (GET + decode), against the memory store,
 * on one machine: sequential latency (p50/p99/max) and throughput with 64 lookups in flight
 * (auto-pipelining batches them). Starts its own redis-server on a free loopback port, or uses
 * REDIS_URL when set.
 *
 *   npx tsc -p . && node dist/bench/redis-micro.js
 */
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../src/cache/entry.js';
import { MemoryStore } from '../src/cache/stores/memory.js';
import { RedisStore } from '../src/cache/stores/redis/redis-store.js';
import type { CacheStore } from '../src/cache/store.js';
import { RedisServer } from '../test/helpers/redis.js';

const STAGE = 'api\u0000prod';
const KEYS = 1_000;
const SEQUENTIAL = 20_000;
const CONCURRENT = 200_000;
const IN_FLIGHT = 64;
const entry: CacheEntry = {
  version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'application/json'], ['etag', '"abc"']],
  body: Buffer.alloc(1024, 'x'), storedAt: Date.now(), staleAt: Date.now() + 3_600_000, deleteAt: Date.now() + 3_600_000,
};

async function lookup(store: CacheStore, key: string): Promise<CacheEntry | undefined> {
  const found = store.get(STAGE, key);
  return found instanceof Promise ? await found : found;
}

async function measure(name: string, store: CacheStore): Promise<void> {
  await store.configureStage(STAGE, 1 << 30);
  for (let i = 0; i < KEYS; i++) await store.set(STAGE, `GET /items/${i}`, entry);
  const latencies = new Float64Array(SEQUENTIAL);
  for (let i = 0; i < SEQUENTIAL; i++) {
    const started = process.hrtime.bigint();
    if (!(await lookup(store, `GET /items/${i % KEYS}`))) throw new Error('miss');
    latencies[i] = Number(process.hrtime.bigint() - started) / 1000;
  }
  latencies.sort();
  const at = (q: number): string => latencies[Math.min(SEQUENTIAL - 1, Math.floor(q * SEQUENTIAL))]!.toFixed(1);

  const throughput = async (keys: number): Promise<string> => {
    let next = 0;
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < CONCURRENT) await lookup(store, `GET /items/${next++ % keys}`);
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { user, system } = process.cpuUsage(cpu);
    return `${Math.round(CONCURRENT / seconds).toLocaleString('en')} hits/s, ${((user + system) / CONCURRENT).toFixed(2)} µs CPU/hit`;
  };
  // CPU per hit is this process's only (not redis-server's): the figure a change to the client side moves.
  console.log(`${name.padEnd(22)} hit latency µs p50 ${at(0.5)}  p99 ${at(0.99)}  max ${at(1 - 1 / SEQUENTIAL)}   with ${IN_FLIGHT} in flight: ${KEYS} keys ${await throughput(KEYS)}; one key ${await throughput(1)}`);
}

const server = process.env.REDIS_URL ? undefined : await RedisServer.start();
const url = process.env.REDIS_URL ?? server!.url;
try {
  await measure('memory', new MemoryStore());
  const redis = new RedisStore({ type: 'redis', url, timeoutMs: 1000, localCacheMs: 0 });
  await redis.ready();
  await measure('redis (standalone)', redis);
  await redis.close();
} finally {
  await server?.stop();
}
