/**
 * An AppCode is a bearer credential (SPEC §6: `?AppCode=` is removed before forwarding and
 * keying). Found in the attack pass: the access log line of every request (and of every rejected
 * one) carried the raw URL, AppCode included, so anyone reading logs could call as the app.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const CODE = 'c0de5ecret0123456789abcdef';

describe('AppCode never reaches the logs nor the backend', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let lines = '';

  before(async () => {
    backend = await startBackend();
    const sink = new Writable({ write(chunk, _encoding, done) { lines += String(chunk); done(); } });
    gateway = await startGateway({
      apps: [{ id: '2001', appCode: CODE }],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: {
          '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } },
          '/fn': { ANY: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/fn` } } },
        },
        stages: { prod: {} },
      }],
    }, { logger: pino({ level: 'info' }, sink) });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  for (const spelling of ['AppCode', 'appcode', 'APPCODE', 'App%43ode']) {
    it(`served, refused and unrouted requests log no ${spelling}= value`, async () => {
      lines = '';
      assert.equal((await call(`${gateway.dataUrl}/prod/items?x=1&${spelling}=${CODE}`)).status, 200);
      assert.equal((await call(`${gateway.dataUrl}/prod/items?${spelling}=${CODE}x`)).status, 401);
      assert.equal((await call(`${gateway.dataUrl}/nostage/items?${spelling}=${CODE}`)).status, 404);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(lines.includes('/prod/items'), 'requests were logged');
      assert.ok(!lines.includes(CODE), `an AppCode is in the log:\n${lines}`);
      // What is not a credential stays, so the line is still useful.
      assert.ok(lines.includes('x=1'), lines);
    });
  }

  it('an APPCODE Authorization header is not forwarded to the integration (as ?AppCode= is not)', async () => {
    // Found: the query AppCode was removed as a credential, the header one was sent on to the
    // backend of every uncached method, which could then call any API of the gateway as the app.
    for (const method of ['GET', 'POST', 'DELETE']) {
      const calls = backend.calls;
      const answer = await call(`${gateway.dataUrl}/prod/fn`, { method, headers: { authorization: `APPCODE ${CODE}`, 'x-kept': 'yes' } });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(backend.calls, calls + 1);
      const seen = backend.seen.at(-1)!;
      assert.equal(seen.headers.authorization, undefined, `${method}: the backend got the AppCode`);
      assert.equal(seen.headers['x-kept'], 'yes');
    }
  });
});
