/**
 * SPEC §6b, the httpCache policy (RFC 9111 shared cache), through real HTTP: a counting node:http
 * backend behind a gateway with a greedy ANY route, and an injected clock.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

describe('httpCache through HTTP', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  let path = '';
  const url = (suffix = '') => `${gateway.dataUrl}/prod${path}${suffix}`;
  let counter = 0;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      httpCaches: { std: { capacityBytes: 1024 * 1024, maxTtl: 3600 } },
      apis: [{
        id: 'web',
        resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } } },
        stages: { prod: {} },
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(() => {
    clock.now = Date.now();
    path = `/t${++counter}`;
  });

  const answer = (headers: Record<string, string | string[]>, status = 200) => {
    backend.handler = (_req, res, _body, n) => res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`call ${n}`);
  };

  it('serves a max-age answer from the cache until it is stale, with Age and the backend Date', async () => {
    const date = new Date(clock.now).toUTCString();
    answer({ 'cache-control': 'max-age=60', date });
    const first = await call(url());
    clock.now += 10_000;
    const hit = await call(url());
    assert.equal(hit.text, first.text);
    assert.equal(hit.headers.date, date);
    assert.ok(Number(hit.headers.age) >= 10);
    assert.match(String(hit.headers['cache-status']), /hit/);
    clock.now += 51_000;
    assert.notEqual((await call(url())).text, first.text);
  });

  it('does not store no-store, private, or answers to Authorization requests without public', async () => {
    for (const headers of [{ 'cache-control': 'no-store, max-age=60' }, { 'cache-control': 'private, max-age=60' }]) {
      answer(headers);
      path += 'x';
      const a = await call(url());
      assert.notEqual((await call(url())).text, a.text, JSON.stringify(headers));
    }
    answer({ 'cache-control': 'max-age=60' });
    const authorised = await call(url('/auth'), { headers: { authorization: 'Bearer a' } });
    assert.notEqual((await call(url('/auth'), { headers: { authorization: 'Bearer a' } })).text, authorised.text);
    answer({ 'cache-control': 'max-age=60', 'set-cookie': 'session=a' });
    const cookie = await call(url('/cookie'));
    assert.notEqual((await call(url('/cookie'))).text, cookie.text, 'an answer setting a cookie is not shared');
    answer({ 'cache-control': 'public, max-age=60', 'set-cookie': 'session=b' });
    const publicCookie = await call(url('/public-cookie'));
    const shared = await call(url('/public-cookie'));
    assert.equal(shared.text, publicCookie.text);
    assert.equal(shared.headers['set-cookie'], undefined, 'a shared answer never carries the cookie');
    answer({ 'cache-control': 'public, max-age=60' });
    const pub = await call(url('/pub'), { headers: { authorization: 'Bearer a' } });
    assert.equal((await call(url('/pub'), { headers: { authorization: 'Bearer b' } })).text, pub.text);
  });

  it('keeps several Vary variants per URL and serves each only to matching requests', async () => {
    backend.handler = (req, res, _body, n) => res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=60' }).end(`${req.headers['accept-language']} ${n}`);
    const en = await call(url(), { headers: { 'accept-language': 'en' } });
    const fr = await call(url(), { headers: { 'accept-language': 'fr' } });
    assert.equal((await call(url(), { headers: { 'accept-language': 'en' } })).text, en.text);
    assert.equal((await call(url(), { headers: { 'accept-language': 'fr' } })).text, fr.text);
    const none = await call(url());
    assert.match(none.text, /^undefined/);
  });

  it('revalidates a stale entry with a conditional request and updates its headers from the 304 (§4.3.4)', async () => {
    backend.handler = (req, res, _body, n) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60', 'x-version': 'updated' }).end();
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=1', 'x-version': 'first' }).end(`body ${n}`);
    };
    const first = await call(url());
    clock.now += 2_000;
    const revalidated = await call(url());
    assert.equal(revalidated.text, first.text);
    assert.equal(revalidated.headers['x-version'], 'updated');
    assert.equal(backend.seen.at(-1)!.headers['if-none-match'], '"v1"');
    const calls = backend.calls;
    const hit = await call(url());
    assert.equal(hit.headers['x-version'], 'updated');
    assert.equal(backend.calls, calls, 'fresh again for the 304\'s max-age');
    // A client's own validator is answered 304 from the cache.
    assert.equal((await call(url(), { headers: { 'if-none-match': '"v1"' } })).status, 304);
  });

  it('keeps an entry\'s purge tags when a 304 refreshes it: a tag or prefix purge still removes it', async () => {
    backend.handler = (req, res, _body, n) => {
      if (req.headers['if-none-match'] === '"t1"') return void res.writeHead(304, { etag: '"t1"', 'cache-control': 'max-age=60' }).end();
      res.writeHead(200, { etag: '"t1"', 'cache-control': 'max-age=1', 'surrogate-key': `refreshed-${counter}` }).end(`body ${n}`);
    };
    await call(url());
    clock.now += 2_000;
    assert.match((await call(url())).headers['cache-status'] as string, /revalidated/);
    assert.equal(await gateway.purgeStage('web', 'prod', { tags: [`refreshed-${counter}`] }), 1, 'the backend tag survived the refresh');
    await call(url());
    clock.now += 2_000;
    assert.match((await call(url())).headers['cache-status'] as string, /revalidated/);
    assert.equal(await gateway.purgeStage('web', 'prod', { pathPrefix: path }), 1, 'the path tags survived the refresh');
  });

  it('invalidates the URL and same-origin Location after a successful unsafe method, not after a failed one', async () => {
    answer({ 'cache-control': 'max-age=60' });
    const cached = await call(url());
    backend.handler = (_req, res) => res.writeHead(500).end('no');
    await call(url(), { method: 'POST', body: 'x' });
    assert.equal((await call(url())).text, cached.text, 'a failed POST invalidates nothing');
    answer({ 'cache-control': 'max-age=60' });
    const other = await call(url('/other'));
    const foreign = await call(url('/foreign'));
    // The backend writes Location in its own terms (its path, or its absolute URL); the gateway maps
    // it to its own URL (`/prod` + the greedy part). Another origin is never invalidated (§4.4).
    backend.handler = (_req, res) => res.writeHead(201, { location: `${path}/other`, 'content-location': `http://elsewhere.example${path}/foreign` }).end('made');
    await call(url(), { method: 'PUT', body: 'x' });
    answer({ 'cache-control': 'max-age=60' });
    assert.notEqual((await call(url())).text, cached.text);
    assert.notEqual((await call(url('/other'))).text, other.text);
    assert.equal((await call(url('/foreign'))).text, foreign.text);
  });

  it('answers a Range request from a complete entry (206, If-Range) and HEAD without a body', async () => {
    backend.handler = (_req, res) => res.writeHead(200, { etag: '"r"', 'cache-control': 'max-age=60' }).end('0123456789');
    await call(url());
    const calls = backend.calls;
    const part = await call(url(), { headers: { range: 'bytes=2-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, '234');
    assert.equal(part.headers['content-range'], 'bytes 2-4/10');
    assert.equal((await call(url(), { headers: { range: 'bytes=-3' } })).text, '789');
    const mismatch = await call(url(), { headers: { range: 'bytes=2-4', 'if-range': '"other"' } });
    assert.equal(mismatch.status, 200);
    assert.equal((await call(url(), { headers: { range: 'bytes=20-' } })).status, 416);
    const head = await call(url(), { method: 'HEAD' });
    assert.equal(head.text, '');
    assert.equal(backend.calls, calls);
  });

  it('answers only-if-cached with 504 when nothing usable is stored, and from the cache when it is', async () => {
    assert.equal((await call(url(), { headers: { 'cache-control': 'only-if-cached' } })).status, 504);
    assert.equal(backend.calls > 0 ? backend.seen.some((seen) => seen.url === path) : false, false);
    answer({ 'cache-control': 'max-age=60' });
    const stored = await call(url());
    assert.equal((await call(url(), { headers: { 'cache-control': 'only-if-cached' } })).text, stored.text);
  });

  it('honours request max-age, min-fresh and no-cache', async () => {
    answer({ 'cache-control': 'max-age=60' });
    const first = await call(url());
    clock.now += 20_000;
    assert.notEqual((await call(url(), { headers: { 'cache-control': 'max-age=10' } })).text, first.text);
    const second = await call(url());
    assert.notEqual((await call(url(), { headers: { 'cache-control': 'min-fresh=70' } })).text, second.text);
    assert.notEqual((await call(url(), { headers: { pragma: 'no-cache' } })).text, second.text);
  });

  it('prefers CDN-Cache-Control over Cache-Control (RFC 9213)', async () => {
    answer({ 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' });
    const first = await call(url());
    assert.equal((await call(url())).text, first.text);
  });

  it('counts the upstream Age (§4.2.3): an answer already older than its max-age is stale', async () => {
    answer({ 'cache-control': 'max-age=60', age: '100', etag: '"a"' });
    const first = await call(url());
    assert.notEqual((await call(url())).text, first.text);
  });

  it('serves stale within stale-if-error when the backend fails', async () => {
    answer({ 'cache-control': 'max-age=1, stale-if-error=60' });
    const first = await call(url());
    clock.now += 5_000;
    backend.handler = (_req, res) => res.writeHead(503).end('down');
    const stale = await call(url());
    assert.equal(stale.status, 200);
    assert.equal(stale.text, first.text);
  });

  it('passes any method token through on the greedy ANY route and keeps caller-supplied derived headers out', async () => {
    answer({});
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url(), { method: 'M-SEARCH', headers: { 'x-forwarded-host': 'evil.example', forwarded: 'host=evil' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const seen = backend.seen.at(-1)!;
    assert.equal(seen.method, 'M-SEARCH');
    assert.equal(seen.headers.forwarded, undefined);
    assert.notEqual(seen.headers['x-forwarded-host'], 'evil.example');
  });

  it('relays a 103 Early Hints before the final answer and stores only the final one', async () => {
    backend.handler = (_req, res, _body, n) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`final ${n}`);
    };
    const exchange = () => new Promise<{ interim: number[]; text: string }>((resolve, reject) => {
      const interim: number[] = [];
      const req = httpRequest(url(), (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ interim, text }));
      });
      req.on('information', (info) => interim.push(info.statusCode));
      req.on('error', reject);
      req.end();
    });
    const first = await exchange();
    assert.deepEqual(first.interim, [103]);
    const second = await exchange();
    assert.equal(second.text, first.text);
    assert.deepEqual(second.interim, [], 'a hit carries no stored interim answer');
  });

  it('says the Age of an answer aged upstream on the miss too, and serves a stale entry to max-stale', async () => {
    answer({ 'cache-control': 'max-age=60', age: '30' });
    const miss = await call(url());
    assert.ok(Number(miss.headers.age) >= 30);
    clock.now += 40_000;
    const calls = backend.calls;
    assert.equal((await call(url(), { headers: { 'cache-control': 'max-stale=20' } })).text, miss.text);
    assert.equal(backend.calls, calls);
    assert.notEqual((await call(url(), { headers: { 'cache-control': 'max-stale=5' } })).text, miss.text);
  });
});
