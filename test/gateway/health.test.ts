/**
 * `/healthz` and `/readyz` on the admin listener (SPEC §8): no credentials needed, JSON, never
 * cached; readyz is 503 with the reason when the store (a real Redis, killed here) is unreachable,
 * and 200 again when it returns. Everything else on the admin listener still needs an identity.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisServer, redisSkip } from '../helpers/redis.js';

const api = { id: 'a', resources: { '/x': { GET: { integration: { type: 'MOCK', body: 'x' } } } }, stages: { prod: {} } };

describe('health endpoints', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await startGateway({ apis: [api] });
  });
  after(async () => {
    await gateway.close();
  });

  it('GET /healthz: 200 JSON without credentials, not cacheable', async () => {
    const answer = await call(`${gateway.adminUrl}/healthz`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { status: 'ok' });
    assert.equal(answer.headers['cache-control'], 'no-store');
  });

  it('GET /readyz: 200 with every check ok (memory store)', async () => {
    const answer = await call(`${gateway.adminUrl}/readyz`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { status: 'ready', checks: { config: 'ok', dataListener: 'ok', adminListener: 'ok', store: 'ok' } });
  });

  it('only exactly these paths and GET/HEAD skip authentication', async () => {
    assert.equal((await call(`${gateway.adminUrl}/healthz`, { method: 'HEAD' })).status, 200);
    for (const [method, path] of [['GET', '/healthz/'], ['GET', '/healthzx'], ['GET', '/readyz/../restapis'], ['POST', '/healthz'], ['GET', '/restapis']]) {
      assert.equal((await call(`${gateway.adminUrl}${path}`, { method: method! })).status, 403, `${method} ${path}`);
    }
  });

  it('not on the data listener', async () => {
    assert.notEqual((await call(`${gateway.dataUrl}/healthz`)).status, 200);
  });
});

describe('readyz with Redis', { skip: redisSkip() }, () => {
  let redis: RedisServer;
  let gateway: Gateway;
  before(async () => {
    redis = await RedisServer.start();
    gateway = await startGateway({ store: { type: 'redis', url: redis.url }, apis: [api] });
  });
  after(async () => {
    await gateway.close();
    await redis.stop();
  });

  it('503 with the reason while the store is down; 200 once it is back', async () => {
    assert.equal((await call(`${gateway.adminUrl}/readyz`)).status, 200);
    await redis.kill();
    const down = await call(`${gateway.adminUrl}/readyz`);
    assert.equal(down.status, 503);
    assert.equal(down.json().status, 'not ready');
    assert.match(down.json().checks.store, /^unreachable/);
    assert.equal((await call(`${gateway.adminUrl}/healthz`)).status, 200, 'the process still serves');
    await redis.restart();
    for (let i = 0; i < 100 && (await call(`${gateway.adminUrl}/readyz`)).status !== 200; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await call(`${gateway.adminUrl}/readyz`)).status, 200);
  });
});
