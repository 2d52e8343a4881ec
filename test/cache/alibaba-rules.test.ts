/**
 * Regression tests for the Alibaba plug-in's lifetime rules, each found by the public cache-tests
 * suite (issue 14) and failing before the fix: stale entries served (and refreshed in the
 * background) without the backend's permission and without a conditional request; the upstream
 * Age ignored; Date rewritten on every hit; Date.parse accepting an invalid Expires; `duration`
 * applied to 201/202 answers.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CachePluginConfig } from '../../src/config/schema.js';
import { alibabaLifetime } from '../../src/cache/policies/alibaba/rules.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const PLUGIN = { varyByApp: false, varyByParameters: [], varyByHeaders: [], clientCacheControl: { mode: 'off', apps: [] }, cacheableHeaders: [], duration: 300, cacheSpaceBytes: 5 * 1024 * 1024 } as CachePluginConfig;
const NOW = Date.UTC(2026, 0, 1);

describe('Alibaba plug-in lifetime (pure rules)', () => {
  it('counts the upstream Age against the lifetime', () => {
    const lifetime = alibabaLifetime({ 'cache-control': 'max-age=100', age: '40' }, PLUGIN, NOW);
    assert.deepEqual(lifetime, { store: true, lifetimeSeconds: 100, ageSeconds: 40 });
    assert.deepEqual(alibabaLifetime({ 'cache-control': 'max-age=100', age: '100' }, PLUGIN, NOW), { store: false, reason: 'expired' });
  });

  it('treats an Expires that is no HTTP-date as already expired (Date.parse accepted these)', () => {
    const date = new Date(NOW).toUTCString();
    for (const expires of ['Thu, 18 Aug 2050 02:01:18 UTC', '2050-08-18', 'Thu, 18-Aug-2050 02:01:18 GMT', 'Thu, 18 Aug 2050 2:01:18 GMT']) {
      assert.deepEqual(alibabaLifetime({ expires, date }, PLUGIN, NOW), { store: false, reason: 'expired' }, expires);
    }
    // The three forms RFC 9110 §5.6.7 requires recipients to accept still work.
    assert.equal(alibabaLifetime({ expires: 'Thu, 18 Aug 2050 02:01:18 GMT', date }, PLUGIN, NOW).store, true);
    assert.equal(alibabaLifetime({ expires: 'Thursday, 18-Aug-50 02:01:18 GMT', date }, PLUGIN, NOW).store, true);
    assert.equal(alibabaLifetime({ expires: 'Thu Aug 18 02:01:18 2050', date }, PLUGIN, NOW).store, true);
  });

  it('applies duration only to statuses cacheable by default, not 201/202', () => {
    assert.deepEqual(alibabaLifetime({}, PLUGIN, NOW, 201), { store: false, reason: 'status' });
    assert.deepEqual(alibabaLifetime({}, PLUGIN, NOW, 202), { store: false, reason: 'status' });
    assert.equal(alibabaLifetime({}, PLUGIN, NOW, 200).store, true);
    // An explicit lifetime still stores a 201 (the backend said so).
    assert.equal(alibabaLifetime({ 'cache-control': 'max-age=60' }, PLUGIN, NOW, 201).store, true);
  });

  it('reads Cache-Control with the shared parser: quoted arguments, case, and invalid values as stale', () => {
    assert.deepEqual(alibabaLifetime({ 'cache-control': 'Max-Age="60"' }, PLUGIN, NOW), { store: true, lifetimeSeconds: 60, ageSeconds: 0 });
    assert.deepEqual(alibabaLifetime({ 'cache-control': 'max-age=6O' }, PLUGIN, NOW), { store: false, reason: 'expired' });
    assert.deepEqual(alibabaLifetime({ 'cache-control': 'extension="no-store", max-age=60' }, PLUGIN, NOW).store, true);
  });
});

describe('Alibaba plug-in lifetime through HTTP', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  const url = (path: string) => `${gateway.dataUrl}/prod${path}`;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      cachePlugins: { plain: { duration: 100 }, validated: { duration: 100, cacheableHeaders: ['ETag'] } },
      apis: [{
        id: 'ali',
        resources: {
          '/{proxy+}': { GET: { cachePlugin: 'plain', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } },
          '/validated': { GET: { cachePlugin: 'validated', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/validated` } } },
        },
        stages: { prod: { cacheClusterEnabled: true } },
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(() => {
    clock.now = Date.now();
  });

  it('never serves a stale entry with a validator (cacheableHeaders: [ETag]): it sends a conditional request and serves the 304-confirmed body', async () => {
    backend.handler = (req, res, _body, n) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=10, must-revalidate' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'max-age=10, must-revalidate' }).end(`body ${n}`);
    };
    const first = await call(url('/validated'));
    assert.equal(first.text, 'body 1');
    const calls = backend.calls;
    clock.now += 11_000;
    const second = await call(url('/validated'));
    // Before the fix: served stale at once (backend.calls unchanged) and refreshed in the background unconditionally.
    assert.equal(backend.calls, calls + 1, 'the stale entry went to the backend before being served');
    assert.equal(backend.seen.at(-1)!.headers['if-none-match'], '"v1"', 'the request to the backend was conditional');
    assert.equal(second.status, 200);
    assert.equal(second.text, 'body 1');
  });

  it('never serves a stale must-revalidate entry without the backend (no validator kept: refetched)', async () => {
    backend.handler = (_req, res, _body, n) => res.writeHead(200, { 'content-type': 'text/plain', etag: '"x"', 'cache-control': 'max-age=10, must-revalidate' }).end(`fresh ${n}`);
    const first = await call(url('/must'));
    clock.now += 11_000;
    const second = await call(url('/must'));
    assert.notEqual(second.text, first.text, 'a stale must-revalidate answer was served');
  });

  it('keeps the backend Date on hits and counts the upstream Age', async () => {
    const date = new Date(clock.now - 5_000).toUTCString();
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', date, age: '30', 'cache-control': 'max-age=100' }).end('dated');
    await call(url('/dated'));
    clock.now += 2_000;
    const hit = await call(url('/dated'));
    assert.equal(backend.calls > 0 && hit.text, 'dated');
    assert.equal(hit.headers.date, date, 'Date is the backend\'s, not the time of the hit');
    assert.ok(Number(hit.headers.age) >= 32, `Age counts the upstream 30 s, got ${hit.headers.age}`);
    const calls = backend.calls;
    clock.now += 69_000; // 30 + 2 + 69 > 100: stale now, though only 71 s passed here
    await call(url('/dated'));
    assert.equal(backend.calls, calls + 1, 'the entry expired by its corrected age');
  });

  it('does not store a 201 under duration', async () => {
    backend.handler = (_req, res, _body, n) => res.writeHead(201, { 'content-type': 'text/plain' }).end(`created ${n}`);
    const first = await call(url('/created'));
    const second = await call(url('/created'));
    assert.notEqual(first.text, second.text);
  });
});
