/**
 * Attack pass on the `--workers N` features (issue 17): cross-thread fill leases
 * (stores/shared/leases.ts, cache/flow.ts followLease) and the shared throttle table, by a
 * reviewer who did not write them.
 *
 * Two gateways in this one thread, attached to one SharedStoreBuffers (store and lease table), are
 * two gateway threads as far as the leases are concerned (FillLeases is a view of shared memory;
 * the owner is diagnostic only) — and a test can pick which "thread" each request lands on, which
 * the kernel decides under a real `--workers 2`.
 *
 * 1. A leader whose shareable answer cannot reach the store (key-too-long: never stored) held its
 *    key's lease anyway: a miss of that key on another thread waited for the leader's whole call,
 *    found nothing in the store, then made its own call — its latency doubled, and the backend
 *    still got two calls (a local waiter gets the leader's entry from memory; a remote one cannot).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createSharedMemory, memoryArenaBytes } from '../../src/cache/stores/index.js';
import { MAX_CACHE_KEY_LENGTH } from '../../src/cache/limits.js';
import { validateConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two gateways ("threads") sharing one off-heap store and lease table. */
async function twoThreads(raw: unknown): Promise<[Gateway, Gateway]> {
  const load = () => validateConfig(raw, { source: '<test>', baseDir: process.cwd() });
  const first = load();
  const shared = createSharedMemory(memoryArenaBytes(first.config));
  const options = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, sharedMemory: shared };
  const one = await Gateway.start(first, options);
  const two = await Gateway.start(load(), options);
  return [one, two];
}

async function metric(gateway: Gateway, name: string): Promise<number> {
  const text = await gateway.metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

let backend: CountingBackend | undefined;
let gateways: Gateway[] = [];
afterEach(async () => {
  for (const gateway of gateways) await gateway.close();
  gateways = [];
  await backend?.close();
  backend = undefined;
});

describe('threads attack: a fill that cannot reach the store holds no lease', () => {
  it('a key too long to store: a miss on another thread does not wait for the leader (its call is not doubled)', async () => {
    const DELAY_MS = 800;
    backend = await startBackend((req, res, _body, n) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url, call: n }));
      }, DELAY_MS);
    });
    gateways = await twoThreads({
      apis: [{
        id: 'klong',
        resources: { '/{proxy+}': { GET: { cacheKeyParameters: ['method.request.header.X-K'], integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } } } },
      }],
    });
    const [one, two] = gateways as [Gateway, Gateway];
    const long = 'k'.repeat(MAX_CACHE_KEY_LENGTH + 1);
    const get = (gateway: Gateway) => call(`${gateway.dataUrl}/prod/item`, { headers: { 'x-k': long, connection: 'close' } });
    const leader = get(one);
    await sleep(150);
    const started = Date.now();
    const follower = await get(two);
    const took = Date.now() - started;
    assert.equal((await leader).status, 200);
    assert.equal(follower.status, 200);
    assert.match(String(follower.headers['cache-status']), /key-too-long/);
    // Nothing it could find in the store: it must not have waited for the other thread's lease.
    assert.equal(await metric(two, 'cachegate_cache_lease_waits_total'), 0, 'the second thread waited for a lease whose fill could never be stored');
    assert.ok(took < DELAY_MS + 400, `the second thread's caller took ${took} ms for an ${DELAY_MS} ms backend (waited for the other thread's whole call first)`);
  });
});
