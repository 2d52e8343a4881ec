/**
 * Second attack pass (a3/auth) on the Alibaba signed form body (app-gate.ts beginWithForm): the
 * body is read before the caller is authenticated and its parameters are signed with the query's.
 * Real gateway, real backend, real sockets.
 *  1. Body bytes other than the ones signed: a form body that is not valid UTF-8 was decoded with
 *     U+FFFD replacements, so one signature covered many different bodies (0xFF, 0xFE, 0xC0, …
 *     all sign as U+FFFD), each forwarded to the backend as sent.
 *  2. Memory/waits before authentication: a signed form from an unknown X-Ca-Key (or an expired
 *     timestamp, a missing nonce) was refused only after its whole body arrived — a body that never
 *     ends held the request (and up to 64 KiB) until the server's requestTimeout.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { signed as signedAs } from '../alibaba/signing.js';

const A = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };

describe('Alibaba signed form bodies under attack', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((_req, res, body) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body));
    gateway = await startGateway({
      apps: [A],
      apis: [{ id: 'shop', stageFrom: 'header', appAuth: 'required', resources: { '/orders': { POST: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/orders` } } } }, stages: { RELEASE: {} } }],
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const signed = (signedForm: string) => signedAs(A, '/orders', Date.now(), { form: signedForm });

  it('a valid UTF-8 form still verifies and is forwarded byte for byte', async () => {
    const answer = await request(`${gateway.dataUrl}/orders`, { method: 'POST', headers: signed('item=thé&qty=3'), body: Buffer.from('qty=3&item=th%C3%A9') });
    assert.equal(answer.statusCode, 200);
    assert.equal(Buffer.from(await answer.body.arrayBuffer()).toString(), 'qty=3&item=th%C3%A9');
  });

  it('refuses a form body that is not valid UTF-8: one signature must not cover several bodies', async () => {
    for (const bytes of [[0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('item='), Buffer.from(bytes)]);
      const answer = await request(`${gateway.dataUrl}/orders`, { method: 'POST', headers: signed('item=\uFFFD'), body });
      await answer.body.arrayBuffer();
      assert.equal(answer.statusCode, 400, `body bytes ${bytes.map((b) => b.toString(16)).join(' ')} verified under the U+FFFD signature`);
    }
    // A byte-order mark is not a parameter: the signature must not silently drop or keep it either way.
    const bom = await request(`${gateway.dataUrl}/orders`, { method: 'POST', headers: signed('item=1'), body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('item=1')]) });
    await bom.body.arrayBuffer();
    assert.equal(bom.statusCode, 400);
  });

  it('refuses a signed form from an unknown app before reading its body', { timeout: 10_000 }, async () => {
    const port = Number(new URL(gateway.dataUrl).port);
    for (const bad of [{ 'x-ca-key': 'nobody' }, { 'x-ca-timestamp': '1' }, { 'x-ca-nonce': '' }]) {
      const headers = { ...signed('item=1'), ...bad, 'content-length': '60000', host: new URL(gateway.dataUrl).host };
      const started = Date.now();
      const status = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST /orders HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\nitem=`);
        });
        socket.setTimeout(3_000, () => { socket.destroy(); resolve('timeout'); });
        socket.once('data', (chunk) => { socket.destroy(); resolve(chunk.toString('latin1').split('\r\n')[0]!); });
        socket.once('error', reject);
      });
      assert.match(status, /^HTTP\/1\.1 (400|403) /, `${JSON.stringify(bad)}: ${status} after ${Date.now() - started} ms (the gateway waited for a body it never needed)`);
    }
  });
});
