/**
 * The memory store's arena is sized from the config (stores/index.ts memoryArenaBytes) so that
 * every space's budget fits at once; when it does not, the least recently used entry of any space
 * makes room — another tenant's. httpCache spaces (one per stage using an httpCache, each with the
 * cache's capacityBytes) were left out of the sum: callers of one API filling its httpCache within
 * its own budget evicted another API's stage cache, whose callers then went to its backend again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const MiB = 2 ** 20;
const BODY = 900 * 1024;

describe('memory store: an httpCache space cannot evict another API\'s stage cache', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let base: string;

  before(async () => {
    const payload = Buffer.alloc(BODY, 'x');
    backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=300' });
      res.end(payload);
    });
    gateway = await startGateway({
      httpCaches: { open: { capacityBytes: 16 * MiB } },
      apis: [
        {
          id: 'tenant',
          host: 'tenant.test',
          resources: { '/t/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/t/{id}` } } } },
          stages: { prod: { cacheClusterEnabled: true, cacheCapacityBytes: 8 * MiB, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
        },
        {
          id: 'open',
          host: 'open.test',
          resources: { '/o/{id}': { GET: { httpCache: 'open', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/o/{id}` } } } },
          stages: { prod: {} },
        },
      ],
    });
    base = gateway.dataUrl;
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('entries another API stores within its own httpCache budget leave the stage cache\'s entries in place', async () => {
    const tenant = (i: number) => call(`${base}/prod/t/${i}`, { headers: { host: 'tenant.test' } });
    for (let i = 0; i < 6; i++) assert.equal((await tenant(i)).status, 200);
    const stored = backend.calls;
    for (let i = 0; i < 6; i++) await tenant(i);
    assert.equal(backend.calls, stored, 'the tenant\'s six entries are hits');
    // 16 answers of 900 KiB: 14 MiB, within the httpCache's 16 MiB.
    for (let i = 0; i < 16; i++) assert.equal((await call(`${base}/prod/o/${i}`, { headers: { host: 'open.test' } })).status, 200);
    const open = backend.calls;
    for (let i = 0; i < 16; i++) await call(`${base}/prod/o/${i}`, { headers: { host: 'open.test' } });
    assert.equal(backend.calls, open, 'the httpCache holds its sixteen entries');
    const before = backend.calls;
    for (let i = 0; i < 6; i++) await tenant(i);
    assert.equal(backend.calls - before, 0, 'the tenant\'s entries were evicted by another API\'s httpCache');
  });
});
