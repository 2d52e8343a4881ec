/**
 * SPEC §7: "a process given budget + 256 MiB of heap never runs out of memory". Callers that send a
 * request and never read the answer: each cached 1 MB answer written to such a socket stays in the
 * process (Node keeps the whole Buffer until the kernel took its last byte), outside every budget,
 * and with no write deadline for as long as the caller keeps the connection open. Many such sockets
 * on distinct keys (misses: each its own 1 MB) or on evicted entries pin memory without bound.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const BODY = 1_000_000;
const BUDGET = 2 * 1024 * 1024;
const READERS = 48;
const PIPELINED = 200;

const external = (): number => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

describe('slow readers: answers written to callers that never read are bounded', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const sockets: Socket[] = [];

  before(async () => {
    const payload = Buffer.alloc(BODY, 'x');
    backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY });
      res.end(payload);
    });
    gateway = await startGateway({
      apis: [{
        id: 'big',
        resources: { '/b/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/b/{id}` } } } },
        stages: { prod: { cacheClusterEnabled: true, cacheCapacityBytes: BUDGET, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await gateway.close();
    await backend.close();
  });

  it(`${READERS} callers that never read a 1 MB answer pin at most a bounded amount beyond the budget`, async () => {
    const before = external();
    for (let i = 0; i < READERS; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.pause(); // never reads: the kernel's buffers fill, the rest stays in the gateway
      socket.write(`GET /prod/b/${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`);
    }
    const deadline = Date.now() + 15_000;
    while (backend.calls < READERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const grown = external() - before;
    for (const socket of sockets.splice(0)) socket.destroy();
    process.stdout.write(`# ${READERS} stalled readers: arrayBuffers grew ${(grown / 2 ** 20).toFixed(1)} MiB (budget ${(BUDGET / 2 ** 20).toFixed(1)} MiB), backend calls ${backend.calls}\n`);
    assert.ok(grown <= BUDGET + 24 * 2 ** 20, `stalled readers pinned ${(grown / 2 ** 20).toFixed(1)} MiB beyond a ${BUDGET / 2 ** 20} MiB budget`);
  });

  it('a caller pipelining many 1 MB misses on one connection and never reading pins a bounded amount', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const before = external();
    const calls = backend.calls;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.pause();
    let pipeline = '';
    for (let i = 0; i < PIPELINED; i++) pipeline += `GET /prod/b/p${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`;
    socket.write(pipeline);
    const deadline = Date.now() + 6_000;
    // Unbounded, the gateway kept calling the backend for every pipelined request (~20/s here).
    while (Date.now() < deadline && backend.calls - calls < 60) await new Promise((r) => setTimeout(r, 250));
    const grown = external() - before;
    process.stdout.write(`# ${PIPELINED} pipelined misses unread: ${backend.calls - calls} backend calls, arrayBuffers grew ${(grown / 2 ** 20).toFixed(1)} MiB\n`);
    socket.destroy();
    assert.ok(grown <= BUDGET + 24 * 2 ** 20, `one unread pipelined connection pinned ${(grown / 2 ** 20).toFixed(1)} MiB beyond a ${BUDGET / 2 ** 20} MiB budget`);
  });
});
