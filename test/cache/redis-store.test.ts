/**
 * The Redis store against real redis-server processes (test/helpers/redis.ts): store behaviour
 * specific to a shared store, standalone and Cluster; then whole gateways sharing one Redis, with
 * encryption, cross-node flushes and control-plane changes, and Redis dying mid-traffic.
 * The counting backend's call count is the truth of hit vs miss.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Cluster, Redis as IORedis, type Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { entryHash, entryKey, stageHash } from '../../src/cache/stores/redis/keys.js';
import { RedisStore } from '../../src/cache/stores/redis/redis-store.js';
import { stageId } from '../../src/cache/store.js';
import type { StoreConfig } from '../../src/config/schema.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisCluster, redisSkip, RedisServer } from '../helpers/redis.js';
import { runStoreContract, type StoreContractOptions } from './store-contract.js';

const skip = redisSkip();
const KEY_HEX = '22'.repeat(32);
const STAGE = stageId('shop', 'prod');
const CONTRACT: StoreContractOptions = {
  skip: {
    'lru-eviction': 'the Redis store evicts a stage\'s least recently *stored* entries: a hit writes nothing to Redis, so '
      + 'recency of use is unknown per stage (instance-wide LRU is Redis maxmemory-policy allkeys-lru)',
  },
};

function entry(body: string, now = Date.now(), ttlMs = 60_000): CacheEntry {
  return { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'text/plain']], body: Buffer.from(body), storedAt: now, staleAt: now + ttlMs, deleteAt: now + ttlMs };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Every key and value in Redis (all masters of a Cluster), raw. */
async function rawContents(store: RedisStore): Promise<Buffer[]> {
  const client = store.client as Redis | Cluster;
  const nodes = client instanceof Cluster ? client.nodes('master') : [client as Redis];
  const found: Buffer[] = [];
  for (const node of nodes) {
    const keys = await node.keysBuffer('*');
    for (const key of keys) {
      // The shared API definitions name resources by design; entries and their accounting must not.
      if (key.toString().startsWith('cachegate:{control}')) continue;
      found.push(key);
      const type = await node.type(key);
      if (type === 'string') found.push((await node.getBuffer(key))!);
      else if (type === 'hash') found.push(Buffer.from(JSON.stringify(await node.hgetall(key))));
      else if (type === 'zset') found.push(Buffer.from((await node.zrange(key, 0, -1)).join(' ')));
    }
  }
  return found;
}

/** Store behaviour a shared store adds, run against standalone and Cluster. */
/** Why a case does not apply when nodes keep local copies (`localCacheMs`): those copies are still valid entries. */
const LOCAL_COPY_SKIP = 'with localCacheMs a node serves its own copy (a valid entry) for up to localCacheMs after Redis evicts or loses it';

function sharedStoreSuite(name: string, storeConfig: () => StoreConfig, options: { localCopies?: boolean } = {}): void {
  const localCopies = options.localCopies ? LOCAL_COPY_SKIP : false;
  describe(`${name}: shared store behaviour`, () => {
    const stores: RedisStore[] = [];
    const open = async (options: { now?: () => number } = {}): Promise<RedisStore> => {
      const store = new RedisStore(storeConfig(), options);
      stores.push(store);
      await store.ready();
      return store;
    };
    after(async () => {
      await Promise.all(stores.map((store) => store.close()));
    });

    it('shares entries between nodes, and a node joining a stage with the same budget keeps them', async () => {
      const a = await open();
      await a.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/1', entry('one'));
      const b = await open();
      await b.configureStage(STAGE, 1_000_000);
      assert.equal((await b.get(STAGE, 'GET /pets/1'))?.body.toString(), 'one');
      assert.equal(a.knownGeneration(STAGE), b.knownGeneration(STAGE));
    });

    it('flushes on every node: the next generation, announced by pub/sub', async () => {
      const a = await open();
      const b = await open();
      await a.configureStage(STAGE, 1_000_000);
      await b.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/2', entry('two'));
      assert.ok(await b.get(STAGE, 'GET /pets/2'));
      await a.flush(STAGE);
      await eventually('b to learn the new generation', () => b.knownGeneration(STAGE) === a.knownGeneration(STAGE));
      assert.equal(await b.get(STAGE, 'GET /pets/2'), undefined);
      assert.equal(await a.get(STAGE, 'GET /pets/2'), undefined);
      assert.equal(a.stats(STAGE)?.entries, 0);
    });

    it('a purge or delete on one node reaches what the other nodes have read (local copies included)', async () => {
      const a = await open();
      const b = await open();
      await a.configureStage(STAGE, 1_000_000);
      await b.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/3', { ...entry('three'), tags: ['pet-3'] });
      await a.set(STAGE, 'GET /pets/4', entry('four'));
      assert.ok(await b.get(STAGE, 'GET /pets/3'));
      assert.ok(await b.get(STAGE, 'GET /pets/4'));
      assert.equal(await a.purge(STAGE, { tags: ['pet-3'] }), 1);
      await a.delete(STAGE, 'GET /pets/4');
      // Well within localCacheMs (1 s): only the pub/sub message can have dropped b's copies this soon.
      await eventually('b to drop the purged and deleted entries', async () =>
        (await b.get(STAGE, 'GET /pets/3')) === undefined && (await b.get(STAGE, 'GET /pets/4')) === undefined, 400);
    });

    it('a new budget starts a new, empty stage on every node (AWS: a new size is a new cache)', async () => {
      const a = await open();
      await a.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/3', entry('three'));
      const b = await open();
      await b.configureStage(STAGE, 2_000_000);
      assert.equal(await b.get(STAGE, 'GET /pets/3'), undefined);
      await eventually('a to learn the new generation', () => b.knownGeneration(STAGE) === a.knownGeneration(STAGE));
    });

    it('reads a corrupt or half-written value as a miss', { skip: localCopies }, async () => {
      const a = await open();
      await a.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/4', entry('four'));
      const key = entryKey(stageHash(STAGE), a.knownGeneration(STAGE)!, entryHash('GET /pets/4'));
      const whole = (await a.client.getBuffer(key))!;
      assert.ok(await a.get(STAGE, 'GET /pets/4'), 'read (and decoded) once before it is damaged');
      await a.client.set(key, whole.subarray(0, whole.length - 2));
      assert.equal(await a.get(STAGE, 'GET /pets/4'), undefined);
      await a.client.set(key, 'not an entry');
      assert.equal(await a.get(STAGE, 'GET /pets/4'), undefined);
    });

    it('serves what another node stored since, although this node read the entry before (no local copies)', { skip: localCopies }, async () => {
      const a = await open();
      const b = await open();
      await a.configureStage(STAGE, 1_000_000);
      await b.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /pets/5', entry('five'));
      for (let i = 0; i < 3; i++) assert.equal((await b.get(STAGE, 'GET /pets/5'))?.body.toString(), 'five');
      await a.set(STAGE, 'GET /pets/5', { ...entry('FIVE'), headers: [['content-type', 'text/plain'], ['etag', '"2"']] });
      const refreshed = await b.get(STAGE, 'GET /pets/5');
      assert.equal(refreshed?.body.toString(), 'FIVE');
      assert.deepEqual(refreshed?.headers, [['content-type', 'text/plain'], ['etag', '"2"']]);
    });

    it('keeps each stage within its byte budget: the least recently stored entries go first', { skip: localCopies }, async () => {
      const a = await open();
      const small = stageId('shop', 'small');
      // An entry of 150 body bytes counts ~1.2 KB (entry.ts): a few fit.
      await a.configureStage(small, 5000);
      const now = Date.now();
      for (let i = 0; i < 10; i++) await a.set(small, `GET /big/${i}`, entry('x'.repeat(150), now, 60_000 + i));
      const stats = a.stats(small)!;
      assert.ok(stats.bytes <= 5000, `bytes ${stats.bytes}`);
      assert.ok(stats.evictions > 0);
      assert.equal(await a.get(small, 'GET /big/0'), undefined, 'the first stored was evicted');
      assert.ok(await a.get(small, 'GET /big/9'));
    });

    it('sets PX from deleteAt by the injected clock, and never serves past deleteAt', async () => {
      const clock = { now: Date.now() };
      const a = await open({ now: () => clock.now });
      await a.configureStage(STAGE, 1_000_000);
      await a.set(STAGE, 'GET /ttl', entry('ttl', clock.now, 30_000));
      const key = entryKey(stageHash(STAGE), a.knownGeneration(STAGE)!, entryHash('GET /ttl'));
      const pttl = await a.client.pttl(key);
      assert.ok(pttl > 29_000 && pttl <= 30_000, `pttl ${pttl}`);
      clock.now += 30_000;
      assert.equal(await a.get(STAGE, 'GET /ttl'), undefined);
    });
  });
}

describe('Redis store, standalone', { skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });
  runStoreContract('RedisStore (standalone)', async ({ now }) => {
    const store = new RedisStore({ type: 'redis', url: server.url, timeoutMs: 500, localCacheMs: 0 }, { now });
    await store.ready();
    return store;
  }, CONTRACT);
  sharedStoreSuite('standalone', () => ({ type: 'redis', url: server.url, timeoutMs: 200, localCacheMs: 0 }));

  it('sends the lookups of one event-loop turn in one write, and those of the next turn too', async () => {
    const store = new RedisStore({ type: 'redis', url: server.url, timeoutMs: 500, localCacheMs: 0 });
    const observer = new IORedis(server.url);
    try {
      await store.ready();
      await store.configureStage(STAGE, 1_000_000);
      for (let i = 0; i < 50; i++) await store.set(STAGE, `GET /batch/${i}`, entry(`b${i}`));
      // Redis counts the reads it makes from client sockets; this INFO is one of them.
      const reads = async (): Promise<number> => Number(/total_reads_processed:(\d+)/.exec(await observer.info('stats'))![1]);
      for (let turn = 0; turn < 2; turn++) {
        const before = await reads();
        const found = await Promise.all(Array.from({ length: 50 }, (_, i) => store.get(STAGE, `GET /batch/${i}`)));
        assert.deepEqual(found.map((hit) => hit?.body.toString()), Array.from({ length: 50 }, (_, i) => `b${i}`));
        const made = (await reads()) - before;
        // 50 GETs written one by one would be read in several (often 50) reads; one INFO is one read.
        assert.ok(made <= 3, `${made} reads for 50 lookups made in one turn`);
      }
    } finally {
      observer.disconnect();
      await store.close();
    }
  });
  // The same contract and cross-node behaviour with in-process copies of recent entries.
  runStoreContract('RedisStore (standalone, localCacheMs 1000)', async ({ now }) => {
    const store = new RedisStore({ type: 'redis', url: server.url, timeoutMs: 500, localCacheMs: 1000 }, { now });
    await store.ready();
    return store;
  }, { skip: { ...CONTRACT.skip, 'eviction-by-bytes': LOCAL_COPY_SKIP } });
  sharedStoreSuite('standalone with localCacheMs', () => ({ type: 'redis', url: server.url, timeoutMs: 200, localCacheMs: 1000 }), { localCopies: true });
});

describe('Redis store, Cluster of 3 masters', { skip }, () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(async () => {
    await cluster?.stop();
  });
  runStoreContract('RedisStore (Cluster)', async ({ now }) => {
    const store = new RedisStore({ type: 'redis-cluster', nodes: cluster.nodes, timeoutMs: 500, localCacheMs: 0 }, { now });
    await store.ready();
    return store;
  }, CONTRACT);
  sharedStoreSuite('cluster', () => ({ type: 'redis-cluster', nodes: cluster.nodes, timeoutMs: 200, localCacheMs: 0 }));

  it('spreads the entries of one stage over every master', async () => {
    const store = new RedisStore({ type: 'redis-cluster', nodes: cluster.nodes, timeoutMs: 200, localCacheMs: 0 });
    try {
      await store.ready();
      const spread = stageId('shop', 'spread');
      await store.configureStage(spread, 10_000_000);
      for (let i = 0; i < 30; i++) await store.set(spread, `GET /spread/${i}`, entry(`s${i}`));
      const counts = await Promise.all((store.client as Cluster).nodes('master').map((node) => node.keys(`cachegate:e:${stageHash(spread)}:*`)));
      assert.equal(counts.length, 3);
      for (const keys of counts) assert.ok(keys.length > 0, 'every master holds some entries');
    } finally {
      await store.close();
    }
  });
});

/** A gateway config on a shared Redis store. */
function gatewayConfig(store: Record<string, unknown>, backend: CountingBackend): Record<string, unknown> {
  const proxy = (path: string) => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
  return {
    store: { ...store, encryptionKey: KEY_HEX },
    apis: [{
      id: 'shop',
      resources: { '/pets/{petId}': { GET: proxy('/pets/{petId}') }, '/secret': { GET: proxy('/secret') } },
      stages: {
        prod: {
          cacheClusterEnabled: true,
          methodSettings: { '*/*': { cacheTtlInSeconds: 300 }, 'secret/GET': { cacheDataEncrypted: true } },
        },
      },
    }],
  };
}

describe('gateways sharing one Redis', { skip }, () => {
  let server: RedisServer;
  let backend: CountingBackend;
  const gateways: Gateway[] = [];
  const start = async (): Promise<Gateway> => {
    const gateway = await startGateway(gatewayConfig({ type: 'redis', url: server.url }, backend));
    gateways.push(gateway);
    return gateway;
  };

  before(async () => {
    server = await RedisServer.start();
    backend = await startBackend((req, res, _body, call) => {
      if (req.url === '/secret') res.writeHead(200, { 'content-type': 'text/plain', 'x-private-header': 'PRIVATE-HEADER-VALUE' }).end('TOP-SECRET-BODY');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, call }));
    });
  });
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await backend?.close();
    await server?.stop();
  });

  it('A misses and stores, B hits; a flush on A is a miss on B', async () => {
    const a = await start();
    const b = await start();
    const calls = backend.calls;
    const miss = await call(`${a.dataUrl}/prod/pets/1`);
    assert.equal(miss.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    const hit = await call(`${b.dataUrl}/prod/pets/1`);
    assert.match(String(hit.headers['cache-status']), /^cachegate; hit; ttl=/);
    assert.equal(hit.text, miss.text);
    assert.equal(backend.calls, calls + 1);

    await a.flushStage('shop', 'prod');
    const storeA = a.store as RedisStore;
    const storeB = b.store as RedisStore;
    await eventually('B to see the flush', () => storeB.knownGeneration(STAGE) === storeA.knownGeneration(STAGE));
    const after = await call(`${b.dataUrl}/prod/pets/1`);
    assert.equal(after.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    assert.equal(backend.calls, calls + 2);
  });

  it('stores encrypted entries with nothing readable in Redis', async () => {
    const a = await start();
    const first = await call(`${a.dataUrl}/prod/secret`);
    assert.equal(first.text, 'TOP-SECRET-BODY');
    const second = await call(`${a.dataUrl}/prod/secret`);
    assert.match(String(second.headers['cache-status']), /hit/);
    assert.equal(second.text, 'TOP-SECRET-BODY');
    assert.equal(second.headers['x-private-header'], 'PRIVATE-HEADER-VALUE');
    await call(`${a.dataUrl}/prod/pets/7`); // an unencrypted entry: proves the scan below sees values
    const contents = Buffer.concat(await rawContents(a.store as RedisStore));
    assert.ok(contents.includes('/pets/7'), 'the raw scan reads unencrypted entries');
    assert.ok(!contents.includes('TOP-SECRET-BODY'), 'encrypted body is not readable in Redis');
    assert.ok(!contents.includes('PRIVATE-HEADER-VALUE') && !contents.includes('x-private-header'), 'encrypted headers are not readable');
    assert.ok(!contents.includes('/secret'), 'the cache key is not readable (keys are hashed)');
  });

  it('applies a control-plane change made on A to B, and a new node starts with it', async () => {
    const a = await start();
    const b = await start();
    assert.equal((await call(`${b.dataUrl}/prod/added`)).status >= 400, true);
    const apis = JSON.parse(JSON.stringify(a.apis)) as { resources: Record<string, unknown> }[];
    apis[0]!.resources['/added'] = { GET: { integration: { type: 'MOCK', statusCode: 200, body: 'added on A' } } };
    await a.applyApis(apis);
    await eventually('B to apply the change', () => b.apis[0]!.resources['/added'] !== undefined);
    const onB = await call(`${b.dataUrl}/prod/added`);
    assert.equal(onB.status, 200);
    assert.equal(onB.text, 'added on A');
    const c = await start();
    assert.equal((await call(`${c.dataUrl}/prod/added`)).text, 'added on A');
  });
});

describe('Redis going away mid-traffic', { skip }, () => {
  let server: RedisServer;
  let backend: CountingBackend;
  let gateway: Gateway;
  const logLines: string[] = [];

  before(async () => {
    server = await RedisServer.start();
    backend = await startBackend();
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } }));
    gateway = await startGateway(gatewayConfig({ type: 'redis', url: server.url }, backend), { logger });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
    await server?.stop();
  });

  const storeErrors = async (): Promise<number> => {
    const text = (await call(`${gateway.adminUrl}/metrics`)).text;
    return text.split('\n').filter((line) => line.startsWith('cachegate_store_errors_total{') && line.includes('store="redis"'))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  };

  it('serves from the integration without a 5xx, counts and logs once, and hits again after Redis returns', async () => {
    await call(`${gateway.dataUrl}/prod/pets/1`);
    assert.match(String((await call(`${gateway.dataUrl}/prod/pets/1`)).headers['cache-status']), /hit/);

    await server.kill();
    const calls = backend.calls;
    for (let i = 0; i < 20; i++) {
      const answer = await call(`${gateway.dataUrl}/prod/pets/1`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['cache-status'], 'cachegate; fwd=bypass; detail=store-unavailable');
    }
    assert.equal(backend.calls, calls + 20);
    assert.ok((await storeErrors()) >= 20);
    assert.equal(logLines.filter((line) => line.includes('cache store unavailable')).length, 1, 'one log line per outage');

    await server.restart();
    await eventually('an entry stored again', async () => (await call(`${gateway.dataUrl}/prod/pets/1`)).headers['cache-status'] === 'cachegate; fwd=uri-miss; stored', 5000);
    assert.match(String((await call(`${gateway.dataUrl}/prod/pets/1`)).headers['cache-status']), /^cachegate; hit/);
    assert.equal(logLines.filter((line) => line.includes('cache store available again')).length, 1);
  });

  it('bounds a hung Redis by store.timeoutMs: bypass, then hits after it resumes', async () => {
    await call(`${gateway.dataUrl}/prod/pets/2`);
    server.pause();
    try {
      const started = Date.now();
      const answer = await call(`${gateway.dataUrl}/prod/pets/2`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['cache-status'], 'cachegate; fwd=bypass; detail=store-unavailable');
      assert.ok(Date.now() - started < 2000, 'not waiting for the hung server');
    } finally {
      server.resume();
    }
    await eventually('hits again', async () => /^cachegate; hit/.test(String((await call(`${gateway.dataUrl}/prod/pets/2`)).headers['cache-status'])), 5000);
  });
});
