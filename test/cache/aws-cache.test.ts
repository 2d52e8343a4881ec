/**
 * SPEC §5 through real HTTP. The counting backend's call count is the truth of hit vs miss; the
 * clock is injected so TTLs are driven, not slept.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { stageId } from '../../src/cache/store.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const KEY_HEX = '11'.repeat(32);

describe('stage cache (AWS semantics) through HTTP', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: 1_700_000_000_000 };
  let url: (path: string) => string;

  const proxy = (path: string, extra: Record<string, unknown> = {}) => ({ ...extra, integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      store: { encryptionKey: KEY_HEX },
      identities: [
        { name: 'ops', apiKey: 'ops-api-key-123', accessKeyId: 'AKIDOPS', secretAccessKey: 'ops-secret', policy: [{ effect: 'Allow', action: ['execute-api:*', 'apigateway:*'], resource: '*' }] },
        { name: 'reader', apiKey: 'reader-api-key-1', policy: [{ effect: 'Allow', action: 'apigateway:GET', resource: '*' }] },
        { name: 'no-pets', apiKey: 'no-pets-api-key', policy: [
          { effect: 'Allow', action: 'execute-api:*', resource: '*' },
          { effect: 'Deny', action: 'execute-api:InvalidateCache', resource: 'arn:aws:execute-api:*:*:shop/prod/GET/pets/*' },
        ] },
      ],
      apis: [{
        id: 'shop',
        resources: {
          '/users': { GET: proxy('/users', { cacheKeyParameters: ['method.request.querystring.type', 'method.request.header.Accept-Language'] }) },
          '/pets/{petId}': { GET: proxy('/pets/{petId}') },
          '/items': { GET: proxy('/items'), POST: proxy('/items', { cacheKeyParameters: ['method.request.body'] }), PUT: proxy('/items') },
          '/nocache': { GET: proxy('/nocache') },
          '/zero': { GET: proxy('/zero') },
          '/big': { GET: proxy('/big') },
          '/status/{code}': { GET: proxy('/status/{code}') },
          '/cookie': { GET: proxy('/cookie') },
          '/cookie-ok': { GET: proxy('/cookie') },
          '/vary': { GET: proxy('/vary') },
          '/secret': { GET: proxy('/secret') },
          '/open': { GET: proxy('/open') },
          '/strict': { GET: proxy('/strict') },
          '/quiet': { GET: proxy('/quiet') },
        },
        stages: {
          prod: {
            cacheClusterEnabled: true,
            methodSettings: {
              '*/*': { cacheTtlInSeconds: 300 },
              'pets/{petId}/GET': { cacheTtlInSeconds: 60 },
              'items/POST': { cachingEnabled: true },
              'nocache/GET': { cachingEnabled: false },
              'zero/GET': { cacheTtlInSeconds: 0 },
              'status/{code}/GET': { cacheableStatusCodes: [200, 404] },
              'cookie-ok/GET': { cacheResponsesWithSetCookie: true },
              'secret/GET': { cacheDataEncrypted: true },
              'open/GET': { requireAuthorizationForCacheControl: false },
              'strict/GET': { unauthorizedCacheControlHeaderStrategy: 'FAIL_WITH_403' },
              'quiet/GET': { unauthorizedCacheControlHeaderStrategy: 'SUCCEED_WITHOUT_RESPONSE_HEADER' },
            },
          },
          other: { cacheClusterEnabled: true },
          dev: { cacheClusterEnabled: false },
        },
      }],
    }, { now: () => clock.now });
    url = (path) => `${gateway.dataUrl}${path}`;
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    await gateway.flushStage('shop', 'prod');
    await gateway.flushStage('shop', 'other');
    backend.calls = 0;
    backend.seen.length = 0;
    backend.handler = (req, res, _body, call) => {
      const text = JSON.stringify({ path: req.url, call });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'yes' });
      res.end(text);
    };
  });

  it('stores a GET on a miss and serves the next one from the cache with Age and Cache-Status', async () => {
    const first = await call(url('/prod/pets/1'));
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    clock.now += 5_000;
    const second = await call(url('/prod/pets/1'));
    assert.equal(backend.calls, 1);
    assert.equal(second.text, first.text);
    assert.equal(second.headers['x-backend'], 'yes');
    assert.equal(second.headers.age, '5');
    assert.equal(second.headers['cache-status'], 'cachegate; hit; ttl=55'); // pets/{petId}/GET overrides */* (60 s)
  });

  it('expires entries after cacheTtlInSeconds (the most specific method setting wins)', async () => {
    await call(url('/prod/pets/1'));
    await call(url('/prod/users'));
    clock.now += 61_000;
    await call(url('/prod/pets/1')); // 60 s TTL: expired
    await call(url('/prod/users')); // 300 s TTL: still fresh
    assert.equal(backend.calls, 3);
  });

  it('never shares entries between stages, and does not cache a stage with the cache off', async () => {
    await call(url('/prod/pets/1'));
    await call(url('/other/pets/1'));
    await call(url('/dev/pets/1'));
    const dev = await call(url('/dev/pets/1'));
    assert.equal(backend.calls, 4);
    assert.equal(dev.headers['cache-status'], undefined);
  });

  it('keys on cacheKeyParameters only: other query parameters never split entries', async () => {
    await call(url('/prod/users?type=admin&department=A'));
    const b = await call(url('/prod/users?type=admin&department=B'));
    assert.equal(backend.calls, 1);
    assert.equal(b.json().path, '/users?type=admin&department=A');
    await call(url('/prod/users?type=%61dmin')); // the same value, encoded differently
    assert.equal(backend.calls, 1);
    await call(url('/prod/users?type=user'));
    await call(url('/prod/users'));
    await call(url('/prod/users?type='));
    assert.equal(backend.calls, 4, 'absent and empty differ, and from admin');
  });

  it('keys on path parameters always, even when not listed', async () => {
    await call(url('/prod/pets/1'));
    const two = await call(url('/prod/pets/2'));
    assert.equal(backend.calls, 2);
    assert.equal(two.json().path, '/pets/2');
  });

  it('keys on listed headers case-insensitively; unkeyed headers never reach the integration', async () => {
    await call(url('/prod/users'), { headers: { 'Accept-Language': 'en', 'X-Forwarded-Host': 'evil.example', 'X-Original-URL': '/admin' } });
    const seen = backend.seen[0]!.headers;
    assert.equal(seen['accept-language'], 'en');
    assert.equal(seen['x-original-url'], undefined);
    assert.notEqual(seen['x-forwarded-host'], 'evil.example');
    await call(url('/prod/users'), { headers: { 'accept-language': 'en', 'x-poison': '1' } });
    assert.equal(backend.calls, 1);
    await call(url('/prod/users'), { headers: { 'Accept-Language': 'de' } });
    assert.equal(backend.calls, 2);
  });

  it('does not cache when the method turns caching off or its TTL is 0', async () => {
    for (const path of ['/prod/nocache', '/prod/nocache', '/prod/zero', '/prod/zero']) await call(url(path));
    assert.equal(backend.calls, 4);
  });

  it('caches only GET unless a method setting enables another method, which may key on the body', async () => {
    await call(url('/prod/items'), { method: 'PUT', body: 'a' });
    await call(url('/prod/items'), { method: 'PUT', body: 'a' });
    assert.equal(backend.calls, 2, 'PUT is not cached: */* applies to GET only');
    const first = await call(url('/prod/items'), { method: 'POST', body: '{"q":1}', headers: { 'content-type': 'application/json' } });
    const again = await call(url('/prod/items'), { method: 'POST', body: '{"q":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(backend.calls, 3);
    assert.equal(again.text, first.text);
    assert.equal(backend.seen[2]!.body.toString(), '{"q":1}', 'the body reached the integration');
    await call(url('/prod/items'), { method: 'POST', body: '{"q":2}' });
    assert.equal(backend.calls, 4);
  });

  it('answers HEAD from the GET entry and fills it on a miss', async () => {
    const head = await call(url('/prod/pets/3'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(backend.seen[0]!.method, 'GET');
    const get = await call(url('/prod/pets/3'));
    assert.equal(backend.calls, 1);
    assert.equal(get.json().path, '/pets/3');
    const head2 = await call(url('/prod/pets/3'), { method: 'HEAD' });
    assert.match(head2.headers['cache-status'] as string, /hit/);
  });

  it('stores only the configured statuses (2xx by default)', async () => {
    backend.handler = (req, res) => res.writeHead(Number(req.url!.split('/').pop())).end('status');
    await call(url('/prod/status/500'));
    const again = await call(url('/prod/status/500'));
    assert.equal(again.status, 500);
    assert.match(again.headers['cache-status'] as string, /fwd=uri-miss; detail=/);
    await call(url('/prod/status/404'));
    await call(url('/prod/status/404'));
    assert.equal(backend.calls, 3, '404 is configured cacheable here, 500 is not');
  });

  it('does not store responses that set cookies unless configured', async () => {
    backend.handler = (_req, res, _b, n) => res.writeHead(200, { 'set-cookie': [`a=${n}`, 'b=2'] }).end(`cookie ${n}`);
    await call(url('/prod/cookie'));
    await call(url('/prod/cookie'));
    assert.equal(backend.calls, 2);
    await call(url('/prod/cookie-ok'));
    const hit = await call(url('/prod/cookie-ok'));
    assert.equal(backend.calls, 3);
    assert.deepEqual(hit.headers['set-cookie'], ['a=3', 'b=2']);
  });

  it('does not store a response with Vary: *; other Vary values cannot split what the backend never saw', async () => {
    backend.handler = (_req, res) => res.writeHead(200, { vary: '*' }).end('v');
    await call(url('/prod/vary'));
    const again = await call(url('/prod/vary'));
    assert.equal(again.headers['cache-status'], 'cachegate; fwd=uri-miss; detail=vary-star');
    assert.equal(backend.calls, 2);
    // The integration only receives keyed headers, so a Vary on an unkeyed one cannot change the body.
    backend.handler = (_req, res) => res.writeHead(200, { vary: 'Accept-Encoding, Cookie' }).end('v');
    await call(url('/prod/nocache'));
    await call(url('/prod/pets/77'), { headers: { cookie: 'a=1' } });
    await call(url('/prod/pets/77'), { headers: { cookie: 'b=2' } });
    assert.equal(backend.calls, 4);
  });

  it('returns a response over 1 MiB whole but does not store it', async () => {
    const big = Buffer.alloc(1_048_577, 'x');
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(big);
    const first = await call(url('/prod/big'));
    assert.equal(first.text.length, big.length);
    assert.equal(first.headers['cache-status'], 'cachegate; fwd=uri-miss; detail=too-large');
    await call(url('/prod/big'));
    assert.equal(backend.calls, 2);
  });

  it('does not store an integration failure', async () => {
    backend.handler = (_req, res) => res.destroy();
    assert.equal((await call(url('/prod/pets/9'))).status, 502);
    backend.handler = (_req, res) => res.end('{"ok":true}');
    assert.equal((await call(url('/prod/pets/9'))).text, '{"ok":true}');
  });

  describe('client Cache-Control: max-age=0', () => {
    const refresh = { 'cache-control': 'max-age=0' };

    it('refetches and replaces the entry when authorization is not required', async () => {
      await call(url('/prod/open'));
      const refreshed = await call(url('/prod/open'), { headers: refresh });
      assert.equal(refreshed.headers['cache-status'], 'cachegate; fwd=request; stored');
      const after = await call(url('/prod/open'));
      assert.equal(backend.calls, 2);
      assert.equal(after.json().call, 2, 'the entry was replaced');
    });

    it('by default ignores an anonymous caller and says so in a Warning header', async () => {
      await call(url('/prod/pets/1'));
      const answer = await call(url('/prod/pets/1'), { headers: { 'cache-control': 'no-cache' } });
      assert.equal(backend.calls, 1);
      assert.match(answer.headers['cache-status'] as string, /hit/);
      assert.equal(answer.headers.warning, '199 - "Cache-control headers were ignored because the caller was unauthorized"');
    });

    it('SUCCEED_WITHOUT_RESPONSE_HEADER ignores it silently; FAIL_WITH_403 refuses', async () => {
      await call(url('/prod/quiet'));
      const quiet = await call(url('/prod/quiet'), { headers: refresh });
      assert.equal(quiet.headers.warning, undefined);
      assert.equal(backend.calls, 1);
      const strict = await call(url('/prod/strict'), { headers: refresh });
      assert.equal(strict.status, 403);
      assert.equal(backend.calls, 1);
    });

    it('lets an identity allowed execute-api:InvalidateCache refresh (API key or SigV4)', async () => {
      await call(url('/prod/pets/1'));
      await call(url('/prod/pets/1'), { headers: { ...refresh, 'x-api-key': 'ops-api-key-123' } });
      assert.equal(backend.calls, 2);
      const signer = new SignatureV4({ service: 'execute-api', region: 'us-east-1', credentials: { accessKeyId: 'AKIDOPS', secretAccessKey: 'ops-secret' }, sha256: Sha256 });
      const target = new URL(url('/prod/pets/1'));
      const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: target.hostname, port: Number(target.port), path: target.pathname, query: {}, headers: { host: target.host, ...refresh } });
      const answer = await call(url('/prod/pets/1'), { headers: signed.headers as Record<string, string> });
      assert.equal(answer.headers['cache-status'], 'cachegate; fwd=request; stored');
      assert.equal(backend.calls, 3);
    });

    it('refuses an identity whose policy denies InvalidateCache on that ARN, or a wrong key', async () => {
      await call(url('/prod/pets/1'));
      const denied = await call(url('/prod/pets/1'), { headers: { ...refresh, 'x-api-key': 'no-pets-api-key' } });
      assert.ok(denied.headers.warning);
      await call(url('/prod/pets/1'), { headers: { ...refresh, 'x-api-key': 'not-a-key-at-all' } });
      assert.equal(backend.calls, 1);
    });
  });

  describe('flush', () => {
    const flush = (stage: string, headers: Record<string, string>) => call(`${gateway.adminUrl}/restapis/shop/stages/${stage}/cache/data`, { method: 'DELETE', headers });

    it('empties one stage at once (202) and leaves other stages alone', async () => {
      await call(url('/prod/pets/1'));
      await call(url('/other/pets/1'));
      const answer = await flush('prod', { 'x-api-key': 'ops-api-key-123' });
      assert.equal(answer.status, 202);
      await call(url('/prod/pets/1'));
      await call(url('/other/pets/1'));
      assert.equal(backend.calls, 3);
    });

    it('refuses anonymous callers and identities without apigateway:DELETE; 404 for an unknown stage', async () => {
      assert.equal((await flush('prod', {})).status, 403);
      const reader = await flush('prod', { 'x-api-key': 'reader-api-key-1' });
      assert.equal(reader.status, 403);
      assert.equal(reader.headers['x-amzn-errortype'], 'AccessDeniedException');
      assert.equal((await flush('nope', { 'x-api-key': 'ops-api-key-123' })).status, 404);
    });
  });

  it('stores cacheDataEncrypted entries as ciphertext, and serves them', async () => {
    backend.handler = (_req, res) => res.writeHead(200, { 'x-secret-header': 'top-secret-value' }).end('{"card":"4111-1111"}');
    await call(url('/prod/secret'));
    const hit = await call(url('/prod/secret'));
    assert.equal(backend.calls, 1);
    assert.equal(hit.text, '{"card":"4111-1111"}');
    assert.equal(hit.headers['x-secret-header'], 'top-secret-value');
    const stats = gateway.store.stats(stageId('shop', 'prod'))!;
    assert.equal(stats.entries, 1);
    const memory = gateway.store as unknown as { dump?: () => unknown };
    void memory; // the raw-bytes check lives in the store contract suite (encrypted-store.test.ts)
  });

  it('exposes hits, misses, entries and bytes as Prometheus metrics', async () => {
    await call(url('/prod/pets/1'));
    await call(url('/prod/pets/1'));
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /cachegate_cache_hit_count_total\{api="shop",stage="prod",resource="\/pets\/\{petId\}",method="GET"\} [1-9]/);
    assert.match(metrics, /cachegate_cache_miss_count_total\{api="shop",stage="prod",resource="\/pets\/\{petId\}",method="GET"\} [1-9]/);
    assert.match(metrics, /cachegate_cache_entries\{api="shop",stage="prod"\} 1/);
    assert.match(metrics, /cachegate_cache_bytes\{api="shop",stage="prod"\} [1-9]/);
    assert.match(metrics, /cachegate_cache_invalidations_total\{api="shop",stage="prod",reason="flush"\} [1-9]/);
  });
});

describe('stage cache capacity and changes', () => {
  it('evicts least recently used entries at the byte budget and counts evictions', async () => {
    const backend = await startBackend((req, res) => res.end(Buffer.alloc(1000, req.url!.slice(-1))));
    const gateway = await startGateway({
      apis: [{ id: 'a', resources: { '/k/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/k/{id}` } } } },
        stages: { prod: { cacheClusterEnabled: true, cacheCapacityBytes: 6000 } } }],
    });
    try {
      // Each entry counts ~1.3 KB in the off-heap store (1 KB body, key, headers, tags in 128-byte blocks, and its record): four fit, the fifth evicts the oldest.
      for (const id of [1, 2, 3, 4, 5]) await call(`${gateway.dataUrl}/prod/k/${id}`);
      await call(`${gateway.dataUrl}/prod/k/2`);
      assert.equal(backend.calls, 5, '2 survived (it was not the least recently used)');
      await call(`${gateway.dataUrl}/prod/k/1`);
      assert.equal(backend.calls, 6, '1 was evicted');
      const stats = gateway.store.stats(stageId('a', 'prod'))!;
      assert.ok(stats.bytes <= 6000, `bytes ${stats.bytes} within the budget`);
      assert.ok(stats.evictions >= 1, 'something was evicted');
      const calls = backend.calls;
      await call(`${gateway.dataUrl}/prod/k/1`); // just used: must still be there
      assert.equal(backend.calls, calls);
      const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
      assert.match(metrics, /cachegate_cache_evictions_total\{api="a",stage="prod"\} [1-9]/);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('keeps entries across a TTL change, starts empty after a size change (as AWS)', async () => {
    const backend = await startBackend();
    const gateway = await startGateway({
      apis: [{ id: 'a', resources: { '/x': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/x` } } } },
        stages: { prod: { cacheClusterEnabled: true, cacheClusterSize: '0.5' } } }],
    });
    try {
      await call(`${gateway.dataUrl}/prod/x`);
      const apis = structuredClone(gateway.apis) as any[];
      apis[0].stages.prod.methodSettings = { '*/*': { cacheTtlInSeconds: 120 } };
      await gateway.applyApis(apis);
      const hit = await call(`${gateway.dataUrl}/prod/x`);
      assert.equal(backend.calls, 1);
      assert.match(hit.headers['cache-status'] as string, /hit/);
      apis[0].stages.prod.cacheClusterSize = '1.6';
      await gateway.applyApis(apis);
      await call(`${gateway.dataUrl}/prod/x`);
      assert.equal(backend.calls, 2);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });
});
