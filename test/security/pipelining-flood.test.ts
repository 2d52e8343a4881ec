/**
 * One connection, thousands of pipelined requests, a backend that hangs (a bad day). Node's HTTP
 * server hands every pipelined request to the handler as soon as it is parsed, and the proxy pool
 * has no per-origin connection cap: one client connection used to become ~1 backend request each
 * (400 pipelined GETs → 400 concurrent backend requests, and ~10 KB of gateway heap per request).
 * Finding, fixed: the requests of one connection are served one at a time (listener.ts inTurn), so a
 * connection holds at most one backend request; past MAX_PIPELINED_WAITING waiting ones it is closed.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startGateway } from '../helpers/gateway.js';

describe('pipelining flood on one connection', () => {
  let gateway: Gateway;
  let backend: ReturnType<typeof createServer>;
  let seen = 0;
  const held: ServerResponse[] = [];

  before(async () => {
    backend = createServer((_req, res) => {
      seen++;
      held.push(res); // never answers
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(backend.address() as { port: number }).port}`;
    gateway = await startGateway({
      apis: [{ id: 'shop', resources: { '/pets/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${url}/pets/{id}`, timeoutMs: 3000 } } } }, stages: { prod: {} } }],
    });
  });
  after(async () => {
    for (const res of held) res.destroy();
    await gateway.close();
    backend.closeAllConnections();
    await new Promise((resolve) => backend.close(resolve));
  });

  it('holds at most one backend request for one client connection', async () => {
    const port = Number(new URL(gateway.dataUrl).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    let text = '';
    for (let i = 0; i < 400; i++) text += `GET /prod/pets/${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
    socket.write(text);
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline && seen < 400) await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    assert.ok(seen <= 1, `one connection made ${seen} concurrent backend requests`);
    // Requests past MAX_PIPELINED_WAITING close the connection (listener.ts inTurn), which may end even the first backend call.
    assert.equal(received, '', 'nothing is answered before the earlier answers');
  });
});
