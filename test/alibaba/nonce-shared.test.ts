/**
 * Issue 13 defect 5: nonces were per process, so a replay sent to another process was accepted
 * (2 of 10 across `--workers 2`). Now every process of a gateway checks one record: the primary's
 * with the memory store, Redis's with a Redis store (shared by every node); and when Redis is
 * away, each node still refuses replays it has seen itself, counting the fallback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { RedisStore } from '../../src/cache/stores/redis/redis-store.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { RedisServer, redisSkip } from '../helpers/redis.js';
import { signed, type App } from './signing.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
const APP: App = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };

const api = (backendUrl: string) => ({
  id: 'shop',
  resources: { '/items': { GET: { cachePlugin: 'p', integration: { type: 'HTTP_PROXY', uri: `${backendUrl}/items` } } } },
  stages: { prod: {} },
});

describe('cachegate start --workers 2 (memory store): one nonce record for both workers', () => {
  it('refuses every replay, whichever worker it reaches', async () => {
    const backend = await startBackend();
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-nonces-'));
    const config = join(dir, 'cachegate.yaml');
    writeFileSync(config, `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apps: [{ id: "${APP.id}", appKey: ${APP.appKey}, appSecret: ${APP.appSecret} }]
cachePlugins: { p: { varyByApp: true } }
apis:
  - id: shop
    resources:
      /items: { GET: { cachePlugin: p, integration: { type: HTTP_PROXY, uri: "${backend.url}/items" } } }
    stages: { prod: {} }
`);
    const child = spawn(process.execPath, [BIN, 'start', '--config', config, '--workers', '2', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => /2 workers/.test(output) && (clearInterval(timer), resolve()), 50);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const [, dataUrl] = /on (http:\/\/[\d.:]+) \(admin/.exec(output)!;
      const headers = signed(APP, '/prod/items', Date.now());
      // A new connection per request: the primary hands them to the workers in turn.
      const send = () => call(`${dataUrl}/prod/items`, { headers: { ...headers, connection: 'close' } });
      assert.equal((await send()).status, 200);
      const replays = [];
      for (let i = 0; i < 10; i++) replays.push((await send()).status);
      assert.deepEqual(replays, Array(10).fill(400), 'no replay accepted by either worker');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await backend.close();
    }
  });
});

describe('two gateway nodes on one Redis: one nonce record', { skip: redisSkip() }, () => {
  let redis: RedisServer;
  let backend: CountingBackend;
  let nodes: Gateway[];

  before(async () => {
    redis = await RedisServer.start();
    backend = await startBackend();
    const config = { store: { type: 'redis', url: redis.url, timeoutMs: 200 }, apps: [APP], cachePlugins: { p: { varyByApp: true } }, apis: [api(backend.url)] };
    nodes = [await startGateway(config), await startGateway(config)];
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await backend.close();
    await redis.stop();
  });

  it('refuses a replay sent to the other node, and a replay sent to both at once is admitted once', async () => {
    const headers = signed(APP, '/prod/items', Date.now());
    assert.equal((await call(`${nodes[0]!.dataUrl}/prod/items`, { headers })).status, 200);
    assert.equal((await call(`${nodes[1]!.dataUrl}/prod/items`, { headers })).status, 400);
    const racing = signed(APP, '/prod/items', Date.now());
    const answers = await Promise.all(nodes.flatMap((node) => [1, 2, 3].map(() => call(`${node.dataUrl}/prod/items`, { headers: racing }))));
    assert.equal(answers.filter((answer) => answer.status === 200).length, 1, answers.map((a) => a.status).join(','));
  });

  it('with Redis away, each node still refuses replays it saw itself, and counts the fallback', async () => {
    await redis.kill();
    try {
      const headers = signed(APP, '/prod/items', Date.now());
      assert.equal((await call(`${nodes[0]!.dataUrl}/prod/items`, { headers })).status, 200, 'signed traffic keeps flowing');
      assert.equal((await call(`${nodes[0]!.dataUrl}/prod/items`, { headers })).status, 400);
      const metrics = (await call(`${nodes[0]!.adminUrl}/metrics`)).text;
      assert.match(metrics, /^cachegate_store_errors_total\{store="redis",operation="nonce"\} [1-9]/m);
    } finally {
      await redis.restart();
      // Let both nodes reconnect and resync before they are closed (a resync cut short by close()
      // is the store's business, not this test's).
      for (const node of nodes) await (node.store as RedisStore).ready();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
});
