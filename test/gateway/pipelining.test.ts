/**
 * Issue 13 protocol findings, on raw sockets (node:net) against a real gateway:
 * - a 400 for an absolute-form target closes the connection (docs/security.md says so);
 * - a malformed request pipelined behind an in-flight POST never replaces the POST's answer: the
 *   POST is answered first, then the 400, then the connection closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { exchange } from '../helpers/wire.js';

describe('pipelined and refused requests on one connection', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;

  before(async () => {
    // The POST answer comes after 150 ms, so the malformed request behind it arrives while it is in flight.
    backend = await startBackend((req, res, body, call) => {
      const text = JSON.stringify({ path: req.url, call, body: body.toString() });
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text), req.method === 'POST' ? 150 : 0);
    });
    gateway = await startGateway({
      apis: [{
        id: 'shop',
        resources: {
          '/items': { POST: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } },
          '/pets/{petId}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets/{petId}` } } },
        },
        stages: { prod: { cacheClusterEnabled: true } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('an absolute-form target is answered 400 and the connection is closed', async () => {
    const answer = await exchange(port, ['GET http://evil.example/prod/pets/1 HTTP/1.1\r\nHost: a\r\n\r\n'], { timeoutMs: 2_000 });
    assert.deepEqual(answer.statuses, [400], answer.text);
    assert.match(answer.text, /connection: close/i);
    assert.ok(answer.closedByServer, 'the connection stayed open after the 400');
  });

  it('a request pipelined behind an absolute-form target is never served', async () => {
    const before = backend.calls;
    const answer = await exchange(port, ['GET http://evil.example/prod/pets/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /prod/pets/smuggled HTTP/1.1\r\nHost: a\r\n\r\n']);
    assert.deepEqual(answer.statuses, [400], answer.text);
    assert.equal(backend.calls, before);
  });

  it('a malformed request behind an in-flight POST: the POST gets its own answer first, then 400, then close', async () => {
    const post = 'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello';
    const malformed = 'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n';
    const answer = await exchange(port, [post + malformed]);
    assert.deepEqual(answer.statuses, [200, 400], answer.text);
    assert.match(answer.text, /"body":"hello"/);
    assert.ok(answer.text.indexOf('"body":"hello"') < answer.text.indexOf('HTTP/1.1 400'), answer.text);
    assert.ok(answer.closedByServer, 'connection left open after the 400');
  });

  it('the same when the malformed bytes arrive in a second packet while the POST waits for its backend', async () => {
    const post = 'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello';
    const answer = await exchange(port, [post, 'GARBAGE\r\n\r\n'], { gapMs: 30 });
    assert.deepEqual(answer.statuses, [200, 400], answer.text);
    assert.match(answer.text, /"body":"hello"/);
    assert.ok(answer.closedByServer);
  });

  it('two good requests then a malformed one: both answered in order, then 400', async () => {
    const answer = await exchange(port, [
      'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nA' +
      'GET /prod/pets/2 HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /prod/pets/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]);
    assert.deepEqual(answer.statuses, [200, 200, 400], answer.text);
    assert.ok(answer.text.indexOf('"body":"A"') < answer.text.indexOf('"path":"/pets/2"'), answer.text);
    assert.ok(answer.closedByServer);
  });
});
