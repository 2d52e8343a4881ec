/**
 * The console over plain HTTP (no browser): its page and assets are public and locked down, its
 * stats endpoint is authenticated like the rest of the admin API and reports what traffic did.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, type ConsoleStats } from '../../src/control/rest/console-stats.js';
import { call } from '../helpers/http.js';
import { API_KEY, startConsoleHarness, type ConsoleHarness } from './harness.js';

describe('console static files', () => {
  let h: ConsoleHarness;
  before(async () => {
    h = await startConsoleHarness();
  });
  after(() => h.close());

  it('serves the page without authentication, with a strict Content-Security-Policy', async () => {
    for (const path of ['/console', '/console/']) {
      const page = await call(`${h.gateway.adminUrl}${path}`);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.text, /<script type="module" src="\/console\/assets\/app.js">/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
    }
    const head = await call(`${h.gateway.adminUrl}/console`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('serves every asset the page loads, uPlot from its npm package', async () => {
    const page = (await call(`${h.gateway.adminUrl}/console`)).text;
    const scripts = ['/console/assets/app.js', '/console/assets/api.js', '/console/assets/dom.js', '/console/assets/format.js',
      '/console/assets/charts.js', '/console/assets/stage-page.js', '/console/assets/stages-page.js'];
    const linked = [...page.matchAll(/(?:href|src)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);
    for (const path of [...new Set([...linked, ...scripts])]) {
      const asset = await call(`${h.gateway.adminUrl}${path}`);
      assert.equal(asset.status, 200, path);
      assert.ok(asset.text.length > 0, path);
    }
    assert.match(String((await call(`${h.gateway.adminUrl}/console/vendor/uPlot.iife.min.js`)).headers['content-type']), /^text\/javascript/);
    assert.match(String((await call(`${h.gateway.adminUrl}/console/assets/style.css`)).headers['content-type']), /^text\/css/);
  });

  it('serves nothing else without authentication: unknown files, traversal and other methods go to the authenticated API', async () => {
    for (const [method, path] of [['GET', '/console/assets/../../../package.json'], ['GET', '/console/assets/nope.js'], ['GET', '/console/index.html%00'], ['POST', '/console']] as const) {
      const answer = await call(`${h.gateway.adminUrl}${path}`, { method });
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.equal(answer.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    }
  });
});

describe('GET /console/api/stats', () => {
  let h: ConsoleHarness;
  before(async () => {
    h = await startConsoleHarness();
  });
  after(() => h.close());

  const stats = async (apiKey = API_KEY): Promise<ConsoleStats> => {
    const answer = await call(`${h.gateway.adminUrl}/console/api/stats`, { headers: { 'x-api-key': apiKey } });
    assert.equal(answer.status, 200, answer.text);
    return answer.json();
  };
  const prod = (s: ConsoleStats) => s.stages.find((stage) => stage.restApiId === 'petstore' && stage.stageName === 'prod')!;

  it('needs an identity allowed apigateway:GET', async () => {
    const anonymous = await call(`${h.gateway.adminUrl}/console/api/stats`);
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    const unknown = await call(`${h.gateway.adminUrl}/console/api/stats`, { headers: { 'x-api-key': 'nope' } });
    assert.equal(unknown.status, 403);
    await stats('reader-key');
  });

  it('reports hits, misses, entries, bytes, budget and latency by cached vs. forwarded, per stage', async () => {
    const before = prod(await stats());
    assert.equal(before.cacheClusterEnabled, true);
    assert.equal(before.capacityBytes, 0.5 * 2 ** 30);
    assert.deepEqual(before.latency.cached, { count: 0, p50: null, p99: null });

    await h.get('/prod/pets/1');
    for (let i = 0; i < 4; i++) await h.get('/prod/pets/1');
    await h.get('/dev/pets/1');
    const snapshot = await stats();
    const after = prod(snapshot);
    assert.equal(after.hits - before.hits, 4);
    assert.equal(after.misses - before.misses, 1);
    assert.equal(after.entries, 1);
    assert.ok(after.bytes > 0 && after.bytes < after.capacityBytes);
    assert.equal(after.latency.cached.count, 4);
    assert.equal(after.latency.forwarded.count, 1);
    assert.ok(after.latency.cached.p50! > 0 && after.latency.cached.p50! <= after.latency.cached.p99!);
    assert.ok(Math.abs(snapshot.time - Date.now()) < 5000);
    const dev = snapshot.stages.find((stage) => stage.stageName === 'dev')!;
    assert.deepEqual([dev.cacheClusterEnabled, dev.hits, dev.entries, dev.capacityBytes, dev.requests], [false, 0, 0, 0, 1]);
  });
});

describe('latency percentiles from histogram buckets', () => {
  const bounds = [0.001, 0.01, 0.1, Infinity];

  it('interpolates within the bucket that holds the rank, like histogram_quantile', () => {
    // 100 requests: 50 under 1 ms, 49 in 1..10 ms, 1 in 10..100 ms.
    const summary = summarize(bounds, [50, 99, 100, 100], undefined);
    assert.equal(summary.count, 100);
    assert.equal(summary.p50, 0.001);
    assert.ok(Math.abs(summary.p99! - 0.01) < 1e-12);
  });

  it('uses only the requests since the baseline snapshot', () => {
    const summary = summarize(bounds, [50, 99, 100, 110], [50, 99, 100, 100]);
    // All 10 new requests are beyond the last finite bound: answer that bound.
    assert.deepEqual(summary, { count: 10, p50: 0.1, p99: 0.1 });
    assert.deepEqual(summarize(bounds, [5, 5, 5, 5], [5, 5, 5, 5]), { count: 0, p50: null, p99: null });
  });
});
