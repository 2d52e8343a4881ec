/**
 * Throttling enforced (SPEC §8, issue 15) through a real gateway: method-setting buckets (most
 * specific wins), the account-level bucket, 429 TooManyRequestsException before the cache, the
 * metric, UpdateStage's throttling paths, and buckets shared through a real Redis.
 * Limits use a rate so low (0.001/s) that no token refills during a test: counts are exact and
 * nothing depends on timing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisServer, redisSkip } from '../helpers/redis.js';

const SLOW = 0.001;

async function statuses(url: string, count: number, headers?: Record<string, string>): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < count; i++) result.push((await call(url, { headers })).status);
  return result;
}

describe('throttling', () => {
  let backend: CountingBackend;
  const gateways: Gateway[] = [];
  const proxy = () => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets/{petId}` } });

  before(async () => {
    backend = await startBackend();
  });
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await backend.close();
  });

  async function gatewayWith(stage: Record<string, unknown>, gatewaySettings: Record<string, unknown> = {}, store?: Record<string, unknown>): Promise<Gateway> {
    const gateway = await startGateway({
      gateway: gatewaySettings,
      ...(store ? { store } : {}),
      identities: [{ name: 'admin', apiKey: 'admin-key-123', policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] }],
      apis: [{
        id: 'shop',
        resources: {
          '/pets/{petId}': { GET: proxy(), POST: proxy() },
          '/toys/{petId}': { GET: proxy() },
        },
        stages: { prod: { cacheClusterEnabled: true, ...stage } },
      }],
    });
    gateways.push(gateway);
    return gateway;
  }

  it('over a method limit: 429 with AWS\'s body and error type, checked before the cache (hits are refused too)', async () => {
    const gateway = await gatewayWith({ methodSettings: { 'pets/{petId}/GET': { throttlingRateLimit: SLOW, throttlingBurstLimit: 3 } } });
    const calls = backend.calls;
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/1`, 5), [200, 200, 200, 429, 429]);
    assert.equal(backend.calls, calls + 1, 'one miss, two hits');
    const refused = await call(`${gateway.dataUrl}/prod/pets/1`);
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.json(), { message: 'Too Many Requests' });
    assert.equal(refused.headers['x-amzn-errortype'], 'TooManyRequestsException');
    assert.equal(refused.headers['cache-status'], undefined, 'the cache was never consulted');
    // Other methods and resources have no limit.
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/toys/1`, 5), [200, 200, 200, 200, 200]);
    const metrics = await call(`${gateway.adminUrl}/metrics`);
    assert.match(metrics.text, /cachegate_throttled_requests_total\{api="shop",stage="prod",resource="\/pets\/\{petId\}",method="GET",scope="method"\} 3/);
    assert.match(metrics.text, /cachegate_requests_total\{[^}]*resource="\/pets\/\{petId\}"[^}]*status="429"\} 3/);
  });

  it('the most specific method setting wins, field by field; -1 means unset', async () => {
    const gateway = await gatewayWith({
      methodSettings: {
        '*/*': { throttlingRateLimit: SLOW, throttlingBurstLimit: 2 },
        'pets/{petId}/GET': { throttlingBurstLimit: 4, throttlingRateLimit: -1 },
      },
    });
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/1`, 5), [200, 200, 200, 200, 429]);
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/toys/1`, 3), [200, 200, 429]);
    // Each method has its own bucket, as on AWS: `*/*` does not make one shared bucket.
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/toys/2`, 1), [429], 'same method, other path value: same bucket');
  });

  it('the account-level limit spans every API, stage and method (scope=account)', async () => {
    const gateway = await gatewayWith({}, { throttle: { rateLimit: SLOW, burstLimit: 3 } });
    const results = [
      ...(await statuses(`${gateway.dataUrl}/prod/pets/1`, 2)),
      ...(await statuses(`${gateway.dataUrl}/prod/toys/1`, 2)),
    ];
    assert.deepEqual(results, [200, 200, 200, 429]);
    const metrics = await call(`${gateway.adminUrl}/metrics`);
    assert.match(metrics.text, /cachegate_throttled_requests_total\{[^}]*resource="\/toys\/\{petId\}"[^}]*scope="account"\} 1/);
  });

  it('a method limit above the account limit does not lift it', async () => {
    const gateway = await gatewayWith({ methodSettings: { '*/*': { throttlingRateLimit: 1e6, throttlingBurstLimit: 1e6 } } }, { throttle: { rateLimit: SLOW, burstLimit: 2 } });
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/1`, 3), [200, 200, 429]);
  });

  it('burst 0 refuses everything (AWS: a limit of 0 blocks the method)', async () => {
    const gateway = await gatewayWith({ methodSettings: { 'pets/{petId}/GET': { throttlingRateLimit: 10, throttlingBurstLimit: 0 } } });
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/1`, 2), [429, 429]);
  });

  it('no limit configured: throttling is off entirely', async () => {
    const gateway = await gatewayWith({});
    assert.equal(gateway.throttle.active, false);
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/1`, 3), [200, 200, 200]);
  });

  it('UpdateStage /*/*/throttling/burstLimit applies to traffic at once', async () => {
    const gateway = await gatewayWith({});
    const patch = await call(`${gateway.adminUrl}/restapis/shop/stages/prod`, {
      method: 'PATCH',
      headers: { 'x-api-key': 'admin-key-123', 'content-type': 'application/json' },
      body: JSON.stringify({ patchOperations: [
        { op: 'replace', path: '/*/*/throttling/burstLimit', value: '2' },
        { op: 'replace', path: '/*/*/throttling/rateLimit', value: String(SLOW) },
      ] }),
    });
    assert.equal(patch.status, 200, patch.text);
    assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/pets/7`, 3), [200, 200, 429]);
  });

  it('a refused request never reads or forwards its body (POST)', async () => {
    const gateway = await gatewayWith({ methodSettings: { 'pets/{petId}/POST': { throttlingRateLimit: SLOW, throttlingBurstLimit: 1 } } });
    const calls = backend.calls;
    assert.equal((await call(`${gateway.dataUrl}/prod/pets/1`, { method: 'POST', body: 'a' })).status, 200);
    assert.equal((await call(`${gateway.dataUrl}/prod/pets/1`, { method: 'POST', body: 'b'.repeat(100_000) })).status, 429);
    assert.equal(backend.calls, calls + 1);
  });

  describe('shared by every node on one Redis', { skip: redisSkip() }, () => {
    let redis: RedisServer;
    before(async () => {
      redis = await RedisServer.start();
    });
    after(async () => {
      await redis?.stop();
    });

    it('two gateways on one Redis share a bucket: together they admit the burst, not twice it', async () => {
      const store = { type: 'redis', url: redis.url, timeoutMs: 500 };
      const stage = { methodSettings: { 'pets/{petId}/GET': { throttlingRateLimit: SLOW, throttlingBurstLimit: 10 } } };
      const a = await gatewayWith(stage, {}, store);
      const b = await gatewayWith(stage, {}, store);
      const results = await Promise.all([statuses(`${a.dataUrl}/prod/pets/1`, 12), statuses(`${b.dataUrl}/prod/pets/1`, 12)]);
      const admitted = results.flat().filter((status) => status === 200).length;
      // Bound (throttle-redis.ts): burst + rate·T + N·leaseSize = 10 + ~0 + 2·1; with no refill,
      // leased tokens come out of the one bucket, so exactly the burst.
      assert.equal(admitted, 10, JSON.stringify(results));
      assert.ok(results.flat().every((status) => status === 200 || status === 429));

      // Over the limit, refusals are local: 40 more requests cost at most one Redis call per node
      // per second, not one each.
      const scriptCalls = () => {
        const stats = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'], { encoding: 'utf8' });
        return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
      };
      const before = scriptCalls();
      const started = Date.now();
      const more = await Promise.all([statuses(`${a.dataUrl}/prod/pets/1`, 20), statuses(`${b.dataUrl}/prod/pets/1`, 20)]);
      assert.ok(more.flat().every((status) => status === 429));
      const seconds = Math.ceil((Date.now() - started) / 1000);
      assert.ok(scriptCalls() - before <= 2 * (seconds + 1), `${scriptCalls() - before} Redis calls for 40 refusals in ${seconds} s`);
    });

    it('Redis down: each node throttles on its own, the failure is counted, and traffic is served', async () => {
      const other = await RedisServer.start();
      try {
        const gateway = await gatewayWith({ methodSettings: { 'toys/{petId}/GET': { throttlingRateLimit: SLOW, throttlingBurstLimit: 2 } } }, {}, { type: 'redis', url: other.url, timeoutMs: 100 });
        await other.kill();
        assert.deepEqual(await statuses(`${gateway.dataUrl}/prod/toys/1`, 3), [200, 200, 429]);
        const metrics = await call(`${gateway.adminUrl}/metrics`);
        assert.match(metrics.text, /cachegate_store_errors_total\{[^}]*operation="throttle"\} [1-9]/);
      } finally {
        await other.stop();
      }
    });
  });
});
