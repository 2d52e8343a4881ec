/**
 * Issue 13: a store that is wholly or partly unreachable costs no more than caching off, and a
 * flush never comes back. Real redis-server processes: SIGSTOP (a hung server), SIGKILL (a
 * crash), a 3-master Cluster with one master killed, and a restart from an earlier snapshot.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis, type Cluster } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { keySlot } from '../../src/cache/stores/redis/circuit.js';
import { entryHash, entryKey, metaKey, stageHash } from '../../src/cache/stores/redis/keys.js';
import { RedisStore } from '../../src/cache/stores/redis/redis-store.js';
import { stageId } from '../../src/cache/store.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisCluster, redisSkip, RedisServer } from '../helpers/redis.js';

const skip = redisSkip();
const STAGE = stageId('shop', 'prod');

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function capturingLogger(lines: string[]) {
  return pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
}

function config(store: Record<string, unknown>, backend: CountingBackend): Record<string, unknown> {
  return {
    store,
    apis: [{
      id: 'shop',
      resources: { '/pets/{petId}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets/{petId}`, timeoutMs: 5000 } } } },
      stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
    }],
  };
}

const BYPASS = 'cachegate; fwd=bypass; detail=store-unavailable';

describe('a hung or dead standalone Redis costs no more than caching off', { skip }, () => {
  let server: RedisServer;
  let backend: CountingBackend;
  let gateway: Gateway;
  const lines: string[] = [];
  const STORE_TIMEOUT_MS = 300;

  before(async () => {
    server = await RedisServer.start();
    backend = await startBackend((req, res, _body, n) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.url} ${n}`), 100);
    });
    gateway = await startGateway(config({ type: 'redis', url: server.url, timeoutMs: STORE_TIMEOUT_MS }, backend), { logger: capturingLogger(lines) });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
    await server?.stop();
  });

  it('SIGSTOP: the first call pays the store timeout, later ones fail fast (circuit open), bypass and still coalesce; one log line each way', async () => {
    await call(`${gateway.dataUrl}/prod/pets/1`);
    assert.match(String((await call(`${gateway.dataUrl}/prod/pets/1`)).headers['cache-status']), /^cachegate; hit/);
    server.pause();
    try {
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        const answer = await call(`${gateway.dataUrl}/prod/pets/1`);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['cache-status'], BYPASS);
      }
      // Before the circuit, each of the ten waited out the store timeout: 10 × 300 ms + 10 × 100 ms.
      const ms = Date.now() - started;
      assert.ok(ms < 10 * STORE_TIMEOUT_MS, `ten requests took ${ms} ms`);
      assert.deepEqual(Object.values((gateway.store as RedisStore).circuitStates()).filter((state) => state !== 'closed').length, 1);

      // A hot key with the store away: concurrent requests still make one integration call.
      const calls = backend.calls;
      const burst = await Promise.all(Array.from({ length: 10 }, () => call(`${gateway.dataUrl}/prod/pets/2`)));
      assert.equal(backend.calls, calls + 1, 'coalesced in memory');
      assert.equal(new Set(burst.map((answer) => answer.text)).size, 1);
      assert.equal(burst.filter((answer) => answer.headers['cache-status'] === BYPASS).length, 1);
      assert.equal(burst.filter((answer) => answer.headers['cache-status'] === 'cachegate; fwd=bypass; collapsed; detail=store-unavailable').length, 9);
      assert.equal(lines.filter((line) => line.includes('cache store unavailable')).length, 1, 'one log line per outage');
    } finally {
      server.resume();
    }
    await eventually('hits again', async () => /^cachegate; hit/.test(String((await call(`${gateway.dataUrl}/prod/pets/1`)).headers['cache-status'])));
    assert.equal(lines.filter((line) => line.includes('cache store available again')).length, 1);
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /cachegate_store_errors_total\{store="redis",operation="get"\} \d+/);
  });

  it('SIGKILL and restart: bypass while it is away, one log line each way, caching again after', async () => {
    const before = lines.length;
    await server.kill();
    for (let i = 0; i < 5; i++) assert.equal((await call(`${gateway.dataUrl}/prod/pets/3`)).headers['cache-status'], BYPASS);
    await server.restart();
    await eventually('an entry stored again', async () => (await call(`${gateway.dataUrl}/prod/pets/3`)).headers['cache-status'] === 'cachegate; fwd=uri-miss; stored');
    const outage = lines.slice(before);
    assert.equal(outage.filter((line) => line.includes('cache store unavailable')).length, 1);
    assert.equal(outage.filter((line) => line.includes('cache store available again')).length, 1);
  });
});

describe('a Redis Cluster with one master down: keys on the healthy masters keep caching', { skip }, () => {
  let cluster: RedisCluster;
  let backend: CountingBackend;
  let gateway: Gateway;
  const lines: string[] = [];

  before(async () => {
    cluster = await RedisCluster.start({ partialCoverage: true });
    backend = await startBackend();
    gateway = await startGateway(config({ type: 'redis-cluster', nodes: cluster.nodes, timeoutMs: 300 }, backend), { logger: capturingLogger(lines) });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
    await cluster?.stop();
  });

  it('fails fast for the dead master only, logs its outage once, and caches on the others', async () => {
    const store = gateway.store as RedisStore;
    const client = store.client as Cluster;
    const paths = Array.from({ length: 30 }, (_, i) => `/prod/pets/${i}`);
    for (const path of paths) await call(`${gateway.dataUrl}${path}`);
    // Kill a master that does not hold the stage's own keys (its generation and accounting).
    const metaOwner = client.slots[keySlot(metaKey(stageHash(STAGE)))]![0];
    const victim = cluster.servers.find((server) => server.address !== metaOwner)!;
    await victim.kill();

    const started = Date.now();
    const answers = [];
    for (const path of paths) answers.push(await call(`${gateway.dataUrl}${path}`));
    const ms = Date.now() - started;
    assert.ok(answers.every((answer) => answer.status === 200), 'no 5xx');
    const hits = answers.filter((answer) => /^cachegate; hit/.test(String(answer.headers['cache-status']))).length;
    const bypassed = answers.filter((answer) => answer.headers['cache-status'] === BYPASS).length;
    assert.ok(hits > 0 && bypassed > 0 && hits + bypassed === 30, `hits ${hits}, bypassed ${bypassed}`);
    // Before the circuits, every key on the dead master waited out the store timeout (~10 × 300 ms).
    assert.ok(ms < 10 * 300, `30 requests took ${ms} ms`);

    const down = lines.filter((line) => line.includes('cache store unavailable'));
    assert.equal(down.length, 1, 'one log line for the one node down');
    assert.equal(JSON.parse(down[0]!).node, victim.address);
    assert.equal(store.circuitStates()[victim.address] !== 'closed', true);

    // New keys on the healthy masters are stored and hit.
    let storedNew = 0;
    for (let i = 100; i < 120; i++) {
      const first = await call(`${gateway.dataUrl}/prod/pets/${i}`);
      if (first.headers['cache-status'] !== 'cachegate; fwd=uri-miss; stored') continue;
      storedNew++;
      assert.match(String((await call(`${gateway.dataUrl}/prod/pets/${i}`)).headers['cache-status']), /^cachegate; hit/);
    }
    assert.ok(storedNew > 0, 'healthy masters keep caching');

    // Recovery of a restarted master depends on ioredis re-adding it to its pool (a slots refresh),
    // which took over 15 s on the loaded CI machine: recovery is asserted on standalone above.
  });
});

describe('a flush never comes back (Redis restarted from a snapshot taken before it)', { skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  it('keeps flushed entries gone after Redis restarts from the earlier snapshot', async () => {
    const store = new RedisStore({ type: 'redis', url: server.url, timeoutMs: 500, localCacheMs: 0 });
    const admin = new Redis(server.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    try {
      await store.ready();
      await store.configureStage(STAGE, 10_000_000);
      const now = Date.now();
      const entry: CacheEntry = { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [], body: Buffer.from('before the flush'), storedAt: now, staleAt: now + 600_000, deleteAt: now + 600_000 };
      await store.set(STAGE, 'GET /pets/1', entry);
      const before = store.knownGeneration(STAGE)!;
      assert.equal((await store.get(STAGE, 'GET /pets/1'))?.body.toString(), 'before the flush');

      await admin.connect();
      await admin.save();
      copyFileSync(join(server.dir, 'dump.rdb'), join(server.dir, 'before-flush.rdb'));
      admin.disconnect();

      await store.flush(STAGE);
      const flushed = store.knownGeneration(STAGE)!;
      assert.ok(flushed > before);
      assert.equal(await store.get(STAGE, 'GET /pets/1'), undefined);

      await server.kill();
      copyFileSync(join(server.dir, 'before-flush.rdb'), join(server.dir, 'dump.rdb'));
      await server.restart();
      const check = new Redis(server.url, { maxRetriesPerRequest: 0 });
      try {
        // The snapshot did bring the old generation and its entry back into Redis…
        const redisKey = entryKey(stageHash(STAGE), before, entryHash('GET /pets/1'));
        assert.equal(await check.exists(redisKey), 1, 'the restored snapshot holds the flushed entry');
        await store.ready(5000);
        // …and the node re-reads the stage after the restart. It must never go back to `before`.
        await eventually('the node to re-read the stage', () => store.knownGeneration(STAGE) !== flushed);
        for (let i = 0; i < 5; i++) assert.equal(await store.get(STAGE, 'GET /pets/1'), undefined, 'a flushed entry came back');
        assert.ok(store.knownGeneration(STAGE)! > flushed, 'the stage moved on past every generation seen');
        assert.ok(Number(await check.hget(metaKey(stageHash(STAGE)), 'gen')) > flushed);
        // A node joining now reads the moved-on generation too.
        const joining = new RedisStore({ type: 'redis', url: server.url, timeoutMs: 500, localCacheMs: 0 });
        try {
          await joining.ready();
          await joining.configureStage(STAGE, 10_000_000);
          assert.equal(await joining.get(STAGE, 'GET /pets/1'), undefined);
        } finally {
          await joining.close();
        }
      } finally {
        check.disconnect();
      }
    } finally {
      admin.disconnect();
      await store.close();
    }
  });
});
