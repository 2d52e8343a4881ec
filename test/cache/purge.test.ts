/**
 * Purge by backend tag and by path prefix through the admin API (SPEC §7), on the memory store and
 * on one Redis shared by two gateways. The counting backend's call count is the truth of hit vs miss.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { redisSkip, RedisServer } from '../helpers/redis.js';

const KEY_HEX = '33'.repeat(32);
const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
/** The CLI as a child process (asynchronous: the gateway under test answers from this process). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = { ...process.env, CACHEGATE_API_KEY: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', ...env };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env: clean, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
const OPS = { 'x-api-key': 'ops-api-key-123' };

/** Tags by path: Surrogate-Key for pets, Cache-Tag for toys, none for the pet shop. */
function taggingBackend(): Promise<CountingBackend> {
  return startBackend((req, res, _body, call) => {
    const url = req.url!;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const pet = /^\/pets\/(\d+)$/.exec(url);
    if (pet) headers['surrogate-key'] = `pet-${pet[1]} pets`;
    if (url.startsWith('/toys/')) headers['cache-tag'] = 'toys, toy-1';
    if (url === '/secret') headers['surrogate-key'] = 'secret-tag';
    res.writeHead(200, headers).end(JSON.stringify({ path: url, call }));
  });
}

function gatewayConfig(backend: CountingBackend, store: Record<string, unknown>): Record<string, unknown> {
  const proxy = (path: string, extra: Record<string, unknown> = {}) => ({ ...extra, integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
  return {
    store: { ...store, encryptionKey: KEY_HEX },
    identities: [
      { name: 'ops', apiKey: OPS['x-api-key'], accessKeyId: 'AKIDOPS', secretAccessKey: 'ops-secret', policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] },
      { name: 'reader', apiKey: 'reader-api-key-1', policy: [{ effect: 'Allow', action: 'apigateway:GET', resource: '*' }] },
    ],
    apis: [{
      id: 'shop',
      resources: {
        '/pets/{petId}': { GET: proxy('/pets/{petId}', { cacheKeyParameters: ['method.request.path.petId'] }) },
        '/petshop': { GET: proxy('/petshop') },
        '/toys/{id}': { GET: proxy('/toys/{id}', { cacheKeyParameters: ['method.request.path.id'] }) },
        '/secret': { GET: proxy('/secret') },
      },
      stages: {
        prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 }, 'secret/GET': { cacheDataEncrypted: true } } },
        dev: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } },
      },
    }],
  };
}

const purgeTag = (gateway: Gateway, tag: string, headers: Record<string, string> = OPS, stage = 'prod', api = 'shop') =>
  call(`${gateway.adminUrl}/restapis/${api}/stages/${stage}/cache/tags/${encodeURIComponent(tag)}`, { method: 'DELETE', headers });
const purgePrefix = (gateway: Gateway, prefix: string, headers: Record<string, string> = OPS) =>
  call(`${gateway.adminUrl}/restapis/shop/stages/prod/cache/paths?prefix=${encodeURIComponent(prefix)}`, { method: 'DELETE', headers });

/** Calls each path on the gateway; returns how many of them reached the backend. */
async function missesOf(backend: CountingBackend, gateway: Gateway, paths: readonly string[]): Promise<number> {
  const before = backend.calls;
  for (const path of paths) assert.equal((await call(`${gateway.dataUrl}${path}`)).status, 200, path);
  return backend.calls - before;
}

const WARM = ['/prod/pets/1', '/prod/pets/2', '/prod/petshop', '/prod/toys/1', '/prod/secret', '/dev/pets/1'];

describe('purge through the admin API: memory store', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  before(async () => {
    backend = await taggingBackend();
    gateway = await startGateway(gatewayConfig(backend, {}));
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });
  const warm = async () => {
    await gateway.flushStage('shop', 'prod');
    await gateway.flushStage('shop', 'dev');
    await missesOf(backend, gateway, WARM);
    assert.equal(await missesOf(backend, gateway, WARM), 0, 'all cached');
  };

  it('a tag purge removes only the entries carrying the tag (Surrogate-Key and Cache-Tag), on that stage only', async () => {
    await warm();
    const answer = await purgeTag(gateway, 'pet-1');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { purged: 1 });
    assert.equal(await missesOf(backend, gateway, ['/prod/pets/1']), 1, 'the tagged entry is gone');
    assert.equal(await missesOf(backend, gateway, ['/prod/pets/2', '/prod/petshop', '/prod/toys/1', '/dev/pets/1']), 0, 'the others still hit');
    assert.deepEqual((await purgeTag(gateway, 'toys')).json(), { purged: 1 }, 'Cache-Tag values are tags too');
    assert.equal(await missesOf(backend, gateway, ['/prod/toys/1']), 1);
    assert.deepEqual((await purgeTag(gateway, 'pets')).json(), { purged: 2 });
    assert.deepEqual((await purgeTag(gateway, 'no-such-tag')).json(), { purged: 0 });
  });

  it('finds the tags of encrypted entries (stored as HMACs)', async () => {
    await warm();
    assert.deepEqual((await purgeTag(gateway, 'secret-tag')).json(), { purged: 1 });
    assert.equal(await missesOf(backend, gateway, ['/prod/secret']), 1);
  });

  it('a prefix purge removes whole-segment prefixes of the path after the stage', async () => {
    await warm();
    const answer = await purgePrefix(gateway, '/pets/');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { purged: 2 });
    assert.equal(await missesOf(backend, gateway, ['/prod/pets/1', '/prod/pets/2']), 2);
    assert.equal(await missesOf(backend, gateway, ['/prod/petshop', '/prod/toys/1', '/dev/pets/1']), 0, '/petshop is not under /pets');
    assert.deepEqual((await purgePrefix(gateway, '/')).json(), { purged: 5 }, 'the root covers the whole stage');
    assert.equal(await missesOf(backend, gateway, ['/dev/pets/1']), 0);
  });

  it('counts purged entries in cachegate_cache_invalidations_total{reason="purge"}', async () => {
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /cachegate_cache_invalidations_total\{api="shop",stage="prod",reason="purge"\} [1-9]/);
  });

  it('needs an identity allowed apigateway:DELETE, a known API and stage, and a valid tag or prefix', async () => {
    assert.equal((await purgeTag(gateway, 'pets', {})).status, 403, 'anonymous');
    assert.equal((await purgeTag(gateway, 'pets', { 'x-api-key': 'reader-api-key-1' })).status, 403, 'GET only');
    assert.equal((await purgeTag(gateway, 'pets', OPS, 'nope')).status, 404, 'unknown stage');
    assert.equal((await purgeTag(gateway, 'pets', OPS, 'prod', 'nope')).status, 404, 'unknown API');
    assert.equal((await purgePrefix(gateway, 'pets')).status, 400, 'a prefix starts with /');
    assert.equal((await purgePrefix(gateway, '/a/b/c/d/e/f/g/h/i')).status, 400, 'deeper than the indexed depth');
    assert.equal((await call(`${gateway.adminUrl}/restapis/shop/stages/prod/cache/paths`, { method: 'DELETE', headers: OPS })).status, 400, 'no prefix');
    assert.equal((await purgeTag(gateway, ' padded')).status, 400);
  });

  it('cachegate purge: by tag with an API key, by prefix with SigV4, and says what is wrong', async () => {
    await warm();
    const base = ['purge', '--api', 'shop', '--stage', 'prod', '--admin', gateway.adminUrl];
    const byTag = await cli([...base, '--tag', 'pet-1', '--api-key', OPS['x-api-key']]);
    assert.equal(byTag.code, 0, byTag.stderr);
    assert.match(byTag.stdout, /^purged 1 entry \(tag "pet-1"\) from the cache of shop\/prod$/m);
    const byPrefix = await cli([...base, '--prefix', '/pets/'], { AWS_ACCESS_KEY_ID: 'AKIDOPS', AWS_SECRET_ACCESS_KEY: 'ops-secret' });
    assert.equal(byPrefix.code, 0, byPrefix.stderr);
    assert.match(byPrefix.stdout, /^purged 1 entry \(path prefix "\/pets\/"\)/m);
    assert.equal(await missesOf(backend, gateway, ['/prod/pets/1', '/prod/pets/2']), 2);
    assert.equal(await missesOf(backend, gateway, ['/prod/toys/1']), 0);
    const both = await cli([...base, '--tag', 'a', '--prefix', '/b', '--api-key', OPS['x-api-key']]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /exactly one of --tag and --prefix/);
    const denied = await cli([...base, '--tag', 'a', '--api-key', 'reader-api-key-1']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^cachegate: purge failed: 403 /m);
  });
});

const skip = redisSkip();

describe('purge through the admin API: two gateways on one Redis', { skip }, () => {
  let server: RedisServer;
  let backend: CountingBackend;
  let a: Gateway;
  let b: Gateway;
  before(async () => {
    server = await RedisServer.start();
    backend = await taggingBackend();
    a = await startGateway(gatewayConfig(backend, { type: 'redis', url: server.url }));
    b = await startGateway(gatewayConfig(backend, { type: 'redis', url: server.url }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await backend?.close();
    await server?.stop();
  });

  it('a tag purge on A is a miss on B for the tagged entries only', async () => {
    await missesOf(backend, a, WARM);
    assert.equal(await missesOf(backend, b, WARM), 0, 'B hits what A stored');
    assert.deepEqual((await purgeTag(a, 'pet-1')).json(), { purged: 1 });
    assert.equal(await missesOf(backend, b, ['/prod/pets/1']), 1);
    assert.equal(await missesOf(backend, b, ['/prod/pets/2', '/prod/petshop', '/prod/toys/1', '/prod/secret', '/dev/pets/1']), 0);
    assert.deepEqual((await purgeTag(a, 'secret-tag')).json(), { purged: 1 }, 'encrypted entries too');
    assert.equal(await missesOf(backend, b, ['/prod/secret']), 1);
  });

  it('a prefix purge on A is a miss on B under the prefix only', async () => {
    await missesOf(backend, a, WARM);
    assert.equal(await missesOf(backend, b, WARM), 0);
    assert.deepEqual((await purgePrefix(a, '/pets')).json(), { purged: 2 });
    assert.equal(await missesOf(backend, b, ['/prod/pets/1', '/prod/pets/2']), 2);
    assert.equal(await missesOf(backend, b, ['/prod/petshop', '/prod/toys/1', '/dev/pets/1']), 0);
  });
});
