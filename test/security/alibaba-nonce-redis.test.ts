/**
 * Attack pass on Alibaba nonces shared through Redis (docs/notes/attack-alibaba.md): a bad day
 * in production — gateway nodes whose clocks differ, a Redis that hangs — must neither re-admit
 * a signed request nor make every signed request wait on the dead store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisStore } from '../../src/cache/stores/redis/redis-store.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisServer, redisSkip } from '../helpers/redis.js';
import { signed, type App } from '../alibaba/signing.js';

const APP: App = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
const MINUTE = 60_000;
const TIMEOUT_MS = 200;

describe('Alibaba nonces on Redis: skewed nodes, hung store', { skip: redisSkip() }, () => {
  let redis: RedisServer;
  let backend: CountingBackend;
  let nodes: Gateway[];
  const real = Date.now();
  // Node 0's clock runs one minute ahead of node 1's (NTP off, a VM resumed).
  const clocks = [{ now: real + MINUTE }, { now: real }];
  const get = (node: number, headers: Record<string, string>) => call(`${nodes[node]!.dataUrl}/prod/items`, { headers });

  before(async () => {
    redis = await RedisServer.start();
    backend = await startBackend();
    const config = {
      store: { type: 'redis', url: redis.url, timeoutMs: TIMEOUT_MS },
      apps: [APP],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: { '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } } },
        stages: { prod: {} },
      }],
    };
    nodes = [await startGateway(config, { now: () => clocks[0]!.now }), await startGateway(config, { now: () => clocks[1]!.now })];
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await backend.close();
    await redis.stop();
  });

  it('a node whose clock is ahead does not sweep a nonce that a node behind still accepts the timestamp of', async () => {
    // Found: the claim script swept records by the calling node's clock, so node 0 dropped the
    // record one minute early and node 1 (timestamp still inside its window) admitted the replay.
    const headers = signed(APP, '/prod/items', real, { timestamp: real - 13.9 * MINUTE });
    assert.equal((await get(0, headers)).status, 200);
    for (const clock of clocks) clock.now += 10_000;
    // Any signed request on node 0 sweeps by node 0's clock.
    assert.equal((await get(0, signed(APP, '/prod/items', clocks[0]!.now))).status, 200);
    const replay = await get(1, headers);
    assert.equal(replay.status, 400, 'replayed on the node whose clock is behind');
    assert.equal(replay.headers['x-ca-error-message'], 'Nonce Used');
  });

  it('with Redis hung, signed requests do not each wait the store timeout', async () => {
    // Found: the cache store opens a circuit on a hung node, the nonce check did not: every
    // signed request waited timeoutMs for Redis, for as long as it hung.
    redis.pause();
    try {
      const started = performance.now();
      for (let i = 0; i < 10; i++) {
        const answer = await get(1, signed(APP, '/prod/items', clocks[1]!.now));
        assert.equal(answer.status, 200, answer.text);
      }
      const ms = performance.now() - started;
      assert.ok(ms < 4 * TIMEOUT_MS, `10 signed requests took ${Math.round(ms)} ms with Redis hung (timeout ${TIMEOUT_MS} ms)`);
      // Replays to the same node are still refused meanwhile.
      const headers = signed(APP, '/prod/items', clocks[1]!.now);
      assert.equal((await get(1, headers)).status, 200);
      assert.equal((await get(1, headers)).status, 400);
    } finally {
      redis.resume();
      for (const node of nodes) await (node.store as RedisStore).ready();
    }
  });

  it('once Redis answers again, nonces are shared again', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const headers = signed(APP, '/prod/items', clocks[1]!.now);
    assert.equal((await get(1, headers)).status, 200);
    assert.equal((await get(0, headers)).status, 400);
  });
});
