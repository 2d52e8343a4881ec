/**
 * Second attack pass on the stores (a3/store, docs/notes/attack2-store.md): Alibaba nonces on
 * Redis after an outage. While Redis is hung, a node checks nonces against its own memory only
 * (FallbackNonceStore, by design: "replay protection narrows to this process for the outage").
 * The nonces it admitted then were never written to Redis, so once Redis answers again a request
 * signed during the outage could be replayed on another node for the rest of its 15-minute window:
 * the outage's gap outlived the outage.
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
const TIMEOUT_MS = 200;

describe('Alibaba nonces on Redis: what a node admitted during an outage', { skip: redisSkip() }, () => {
  let redis: RedisServer;
  let backend: CountingBackend;
  let nodes: Gateway[];
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
    nodes = [await startGateway(config), await startGateway(config)];
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await backend.close();
    await redis.stop();
  });

  it('a request admitted from local memory while Redis hung is not replayable on another node once it is back', async () => {
    const during: Record<string, string>[] = [];
    redis.pause();
    try {
      // The first claim waits the timeout (its command is still delivered when Redis resumes);
      // the next ones skip Redis for a second and are checked by node 0's memory only.
      for (let i = 0; i < 4; i++) {
        const headers = signed(APP, '/prod/items', Date.now());
        assert.equal((await get(0, headers)).status, 200);
        during.push(headers);
      }
    } finally {
      redis.resume();
      for (const node of nodes) await (node.store as RedisStore).ready();
    }
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Redis is back: node 0's next signed request goes to Redis again.
    assert.equal((await get(0, signed(APP, '/prod/items', Date.now()))).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const [i, headers] of during.entries()) {
      const replay = await get(1, headers);
      assert.equal(replay.status, 400, `request ${i} signed during the outage replayed on node 1 after Redis came back`);
      assert.equal(replay.headers['x-ca-error-message'], 'Nonce Used');
    }
  });

  it('a Redis that restarts empty (or from an older snapshot) forgets nonces: replay on another node', {
    todo: 'nodes do not re-send their own records when Redis restarts having lost data; needs a restart detection (run_id) in the nonce store and a re-push of local records, or Redis persistence (appendfsync always) as an operating requirement',
  }, async () => {
    const headers = signed(APP, '/prod/items', Date.now());
    assert.equal((await get(0, headers)).status, 200);
    await redis.kill();
    await redis.restart();
    for (const node of nodes) await (node.store as RedisStore).ready();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const replay = await get(1, headers);
    assert.equal(replay.status, 400, 'replayed on node 1 after Redis restarted empty');
  });
});
