/**
 * SPEC §6 (Alibaba Cloud API Gateway caching plug-in) through real HTTP, with a counting backend
 * and an injected clock. Signed requests are built here from Alibaba's documented string to sign:
 *   METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n + `name:value\n` per signed header (sorted) + path?sorted-query
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { signed as signedAs, type App } from '../alibaba/signing.js';

const APPS = {
  a: { id: '1001', appKey: 'key-a', appSecret: 'secret-a' },
  b: { id: '1002', appKey: 'key-b', appSecret: 'secret-b' },
  coded: { id: '1003', appCode: 'code-c-123' },
};

/** Headers of a request signed as `app` (HmacSHA256), for `pathAndQuery` as the gateway sees it (with the stage). */
const signed = (app: App, pathAndQuery: string, now: number, extra: Record<string, string> = {}) => signedAs(app, pathAndQuery, now, { extra });

describe('Alibaba caching plug-in through HTTP', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  const url = (path: string) => `${gateway.dataUrl}${path}`;
  const plugin = (fields: Record<string, unknown>) => ({ varyByApp: false, ...fields });

  before(async () => {
    backend = await startBackend();
    const proxy = (name: string) => ({ GET: { cachePlugin: name, integration: { type: 'HTTP_PROXY', uri: `${backend.url}/${name}` } } });
    gateway = await startGateway({
      apps: Object.values(APPS),
      cachePlugins: {
        perApp: plugin({ varyByApp: true, duration: 100 }),
        shared: plugin({ duration: 100 }),
        params: plugin({ varyByParameters: ['userId'], varyByHeaders: ['Accept'], duration: 100 }),
        lifetime: plugin({ duration: 100 }),
        clientAll: plugin({ clientCacheControl: { mode: 'all' } }),
        clientApp: plugin({ varyByApp: false, clientCacheControl: { mode: 'app', apps: ['1001'] } }),
        headers: plugin({ cacheableHeaders: ['X-Customer-Token'] }),
        tiny: plugin({ varyByParameters: ['n'], cacheSpaceBytes: 3500, duration: 10 }),
      },
      apis: [{
        id: 'shop',
        resources: Object.fromEntries(['perApp', 'shared', 'params', 'lifetime', 'clientAll', 'clientApp', 'headers', 'tiny'].map((name) => [`/${name}`, proxy(name)])),
        stages: { prod: {} }, // the plug-in works without the AWS stage cache
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    await gateway.flushStage('shop', 'prod');
    backend.calls = 0;
    backend.seen.length = 0;
    backend.handler = (req, res, _body, n) => res.writeHead(200, { 'content-type': 'application/json', 'x-other': 'dropped' }).end(JSON.stringify({ path: req.url, call: n }));
  });

  it('serves hits with X-Ca-Caching: true and Cache-Status', async () => {
    const miss = await call(url('/prod/shared'));
    assert.equal(miss.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    assert.equal(miss.headers['x-other'], 'dropped', 'the first answer passes through whole');
    const hit = await call(url('/prod/shared'));
    assert.equal(backend.calls, 1);
    assert.equal(hit.headers['x-ca-caching'], 'true');
    assert.match(hit.headers['cache-status'] as string, /^cachegate; hit; ttl=100$/);
  });

  it('keeps only Content-Type, Content-Length and cacheableHeaders', async () => {
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'x-customer-token': 't1', 'x-other': 'no', etag: '"e"' }).end('body');
    await call(url('/prod/headers'));
    const hit = await call(url('/prod/headers'));
    assert.equal(hit.headers['content-type'], 'text/plain');
    assert.equal(hit.headers['content-length'], '4');
    assert.equal(hit.headers['x-customer-token'], 't1');
    assert.equal(hit.headers['x-other'], undefined);
    assert.equal(hit.headers.etag, undefined);
  });

  it('never replays a stored body without the encoding headers it was received with (issue 16)', async () => {
    const body = gzipSync('{"zipped":true}');
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-language': 'en' }).end(body);
    await call(url('/prod/shared'));
    const hit = await call(url('/prod/shared'));
    assert.equal(hit.headers['x-ca-caching'], 'true');
    assert.equal(hit.headers['content-encoding'], 'gzip');
    assert.equal(hit.headers['content-language'], 'en');
    assert.equal(Number(hit.headers['content-length']), body.length, 'the compressed bytes, as stored');
  });

  describe('varyByApp', () => {
    it('never serves one app\'s entry to another app or to anonymous callers', async () => {
      const a = await call(url('/prod/perApp'), { headers: signed(APPS.a, '/prod/perApp', clock.now) });
      const b = await call(url('/prod/perApp'), { headers: signed(APPS.b, '/prod/perApp', clock.now) });
      const anonymous = await call(url('/prod/perApp'));
      const coded = await call(url('/prod/perApp'), { headers: { authorization: `APPCODE ${APPS.coded.appCode}` } });
      assert.equal(backend.calls, 4);
      assert.deepEqual([a, b, anonymous, coded].map((r) => r.json().call), [1, 2, 3, 4]);
      const aAgain = await call(url('/prod/perApp'), { headers: signed(APPS.a, '/prod/perApp', clock.now) });
      const anonymousAgain = await call(url('/prod/perApp'));
      assert.equal(backend.calls, 4);
      assert.equal(aAgain.json().call, 1);
      assert.equal(anonymousAgain.json().call, 3);
    });

    it('without varyByApp, apps share entries', async () => {
      await call(url('/prod/shared'), { headers: signed(APPS.a, '/prod/shared', clock.now) });
      await call(url('/prod/shared'), { headers: signed(APPS.b, '/prod/shared', clock.now) });
      await call(url('/prod/shared'));
      assert.equal(backend.calls, 1);
    });

    it('refuses a wrong signature, an unsigned AppKey, a replayed nonce and a stale timestamp with Alibaba\'s errors', async () => {
      const good = signed(APPS.a, '/prod/perApp', clock.now);
      const refused = async (headers: Record<string, string>, status: number, code: string) => {
        const answer = await call(url('/prod/perApp'), { headers });
        assert.equal(answer.status, status, answer.text);
        assert.equal(answer.headers['x-ca-error-code'], code);
        assert.ok(answer.headers['x-ca-request-id']);
      };
      await refused({ ...good, 'x-ca-signature': Buffer.from('nope').toString('base64') }, 400, 'I400SG');
      await refused({ 'x-ca-key': APPS.a.appKey }, 400, 'I400MH');
      assert.equal((await call(url('/prod/perApp'), { headers: good })).status, 200);
      await refused(good, 400, 'I400NC'); // the same nonce twice
      await refused(signed(APPS.a, '/prod/perApp', clock.now - 16 * 60_000), 400, 'I400HD');
      await refused({ authorization: 'APPCODE wrong' }, 401, 'A401AC');
      const withQuery = await call(url('/prod/perApp?x=1&a=2'), { headers: signed(APPS.a, '/prod/perApp?x=1&a=2', clock.now) });
      assert.equal(withQuery.status, 200, withQuery.text);
    });
  });

  it('keys on varyByParameters and varyByHeaders only', async () => {
    await call(url('/prod/params?userId=1&page=1'), { headers: { accept: 'application/json' } });
    await call(url('/prod/params?page=2&userId=1'), { headers: { accept: 'application/json', 'x-other': '1' } });
    assert.equal(backend.calls, 1);
    await call(url('/prod/params?userId=2'), { headers: { accept: 'application/json' } });
    await call(url('/prod/params?userId=1'), { headers: { accept: 'text/html' } });
    assert.equal(backend.calls, 3);
    assert.equal(backend.seen[0]!.headers['x-other'], undefined);
  });

  describe('lifetime from the backend', () => {
    const lifetimeOf = async (headers: Record<string, string>) => {
      backend.handler = (_req, res) => res.writeHead(200, headers).end('x');
      return (await call(url('/prod/lifetime'))).headers['cache-status'];
    };
    it('uses s-maxage over max-age, then Expires, then duration, capped at 48 h', async () => {
      assert.equal(await lifetimeOf({ 'cache-control': 'max-age=10, s-maxage=20' }), 'cachegate; fwd=uri-miss; stored');
      assert.match((await call(url('/prod/lifetime'))).headers['cache-status'] as string, /ttl=20$/);
      await gateway.flushStage('shop', 'prod');
      await lifetimeOf({ 'cache-control': 'max-age=999999' });
      assert.match((await call(url('/prod/lifetime'))).headers['cache-status'] as string, /ttl=172800$/);
      await gateway.flushStage('shop', 'prod');
      await lifetimeOf({ expires: new Date(clock.now + 30_000).toUTCString(), date: new Date(clock.now).toUTCString() });
      assert.match((await call(url('/prod/lifetime'))).headers['cache-status'] as string, /ttl=(29|30)$/);
      await gateway.flushStage('shop', 'prod');
      await lifetimeOf({});
      assert.match((await call(url('/prod/lifetime'))).headers['cache-status'] as string, /ttl=100$/);
    });
    it('does not store no-store, private or no-cache answers', async () => {
      for (const directive of ['no-store', 'private', 'no-cache']) {
        await gateway.flushStage('shop', 'prod');
        assert.equal(await lifetimeOf({ 'cache-control': directive }), `cachegate; fwd=uri-miss; detail=${directive}`);
      }
    });
    it('expires entries after their lifetime', async () => {
      backend.handler = (_req, res, _b, n) => res.writeHead(200, { 'cache-control': 'max-age=5' }).end(String(n));
      await call(url('/prod/lifetime'));
      clock.now += 4_000;
      assert.equal((await call(url('/prod/lifetime'))).text, '1');
      clock.now += 2_000;
      assert.equal((await call(url('/prod/lifetime'))).text, '2');
    });
  });

  describe('client Cache-Control', () => {
    it('is ignored by default (mode off)', async () => {
      await call(url('/prod/shared'));
      await call(url('/prod/shared'), { headers: { 'cache-control': 'no-cache' } });
      assert.equal(backend.calls, 1);
    });
    it('is honoured for everyone with mode all', async () => {
      await call(url('/prod/clientAll'));
      const refreshed = await call(url('/prod/clientAll'), { headers: { 'cache-control': 'max-age=0' } });
      assert.equal(refreshed.headers['cache-status'], 'cachegate; fwd=request; stored');
      assert.equal((await call(url('/prod/clientAll'))).json().call, 2, 'the refreshed answer replaced the entry');
    });
    it('is honoured only for the listed apps with mode app', async () => {
      await call(url('/prod/clientApp'));
      await call(url('/prod/clientApp'), { headers: { 'cache-control': 'no-cache' } });
      await call(url('/prod/clientApp'), { headers: signed(APPS.b, '/prod/clientApp', clock.now, { 'cache-control': 'no-cache' }) });
      assert.equal(backend.calls, 1, 'anonymous and app 1002 are not listed');
      await call(url('/prod/clientApp'), { headers: signed(APPS.a, '/prod/clientApp', clock.now, { 'cache-control': 'no-cache' }) });
      assert.equal(backend.calls, 2);
    });
  });

  it('stores nothing new when an app\'s space is full, until entries expire (nothing is evicted)', async () => {
    backend.handler = (_req, res, _b, n) => res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.alloc(1000, String(n)));
    assert.equal((await call(url('/prod/tiny?n=1'))).headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    // ~2.3 KB per entry (1 KB body + bookkeeping, entry.ts) in a 3500-byte space: the second does not fit.
    assert.equal((await call(url('/prod/tiny?n=2'))).headers['cache-status'], 'cachegate; fwd=uri-miss; detail=space-full');
    assert.equal((await call(url('/prod/tiny?n=2'))).headers['cache-status'], 'cachegate; fwd=uri-miss; detail=space-full');
    const first = await call(url('/prod/tiny?n=1'));
    assert.match(first.headers['cache-status'] as string, /hit/, 'nothing was evicted to make room');
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /^cachegate_cache_not_stored_total\{api="shop",stage="prod",reason="space-full"\} 2$/m);
    clock.now += 11_000; // n=1 expired: its room is free again
    assert.equal((await call(url('/prod/tiny?n=2'))).headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    assert.match((await call(url('/prod/tiny?n=2'))).headers['cache-status'] as string, /hit/);
  });

  it('caches GET only', async () => {
    backend.handler = (_req, res, _b, n) => res.end(String(n));
    const post = await call(url('/prod/shared'), { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
  });
});
