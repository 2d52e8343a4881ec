/**
 * Attack pass on request coalescing, hit-for-pass and bounded waits (src/cache/flow.ts,
 * coalescing.ts, hit-for-pass.ts), by a reviewer who did not write them. Each case is hostile
 * traffic over real sockets against a real gateway and backend; docs/notes/attack-flow.md has
 * the findings these tests reproduce.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a connection and sends `head` (and nothing more): a request whose body never arrives. */
function hold(port: number, head: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('httpCache: an unsafe request for a URL never holds the GETs of that URL (flow-attack 1)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const sockets: Socket[] = [];
  const TIMEOUT_MS = 1500;

  before(async () => {
    backend = await startBackend((req, res, _body, n) => {
      if (req.method === 'POST') return void setTimeout(() => res.writeHead(201, { 'content-type': 'text/plain' }).end(`posted ${n}`), 1000);
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end(`got ${n}`);
    });
    gateway = await startGateway({
      httpCaches: { std: { capacityBytes: 1024 * 1024, maxTtl: 3600 } },
      apis: [{
        id: 'web',
        resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: TIMEOUT_MS } } } },
        stages: { prod: {} },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await gateway?.close();
    await backend?.close();
  });

  it('a POST whose body never arrives does not turn the GETs of its URL into 504s', async () => {
    // The attacker: a POST to the URL, body announced and never sent.
    sockets.push(await hold(port, 'POST /prod/item/1 HTTP/1.1\r\nHost: web.local\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx'));
    await sleep(200);
    const started = Date.now();
    const answer = await call(`${gateway.dataUrl}/prod/item/1`, { headers: { host: 'web.local' } });
    const ms = Date.now() - started;
    assert.equal(answer.status, 200, `GET answered ${answer.status} ${String(answer.headers['cache-status'])} after ${ms} ms`);
    assert.ok(ms < 800, `GET took ${ms} ms (the backend answers GETs at once)`);
  });

  it('a slow POST neither delays concurrent GETs of its URL nor stops them coalescing', async () => {
    const post = call(`${gateway.dataUrl}/prod/item/2`, { method: 'POST', body: 'hello', headers: { host: 'web.local' } });
    await sleep(150);
    const calls = backend.calls;
    const started = Date.now();
    const gets = await Promise.all(Array.from({ length: 5 }, () => call(`${gateway.dataUrl}/prod/item/2`, { headers: { host: 'web.local' } })));
    const ms = Date.now() - started;
    assert.ok(gets.every((answer) => answer.status === 200));
    assert.ok(ms < 700, `GETs took ${ms} ms behind a 1 s POST`);
    assert.equal(backend.calls - calls, 1, 'five concurrent GET misses make one backend call');
    assert.equal((await post).status, 201);
  });
});
