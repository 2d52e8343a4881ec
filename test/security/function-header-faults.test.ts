/**
 * A FUNCTION integration answering with a header HTTP cannot carry (CR/LF in a value, a character
 * beyond Latin-1, a name that is no token). Such an answer is AWS's malformed Lambda proxy response:
 * a 502 each time, with the function called again — never an entry stored and replayed as a 500
 * (with the reason phrase "OK") on every hit until it expired, as it was, with the shared store of
 * two threads and with one thread's heap store alike.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { rawExchange } from '../helpers/http.js';

for (const threads of [1, 2]) {
  describe(`FUNCTION answers with headers HTTP cannot carry (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    let gateway: Gateway;
    let port: number;
    before(async () => {
      gateway = await startGateway({
        apis: [{
          id: 'odd',
          resources: { '/o/{kind}': { GET: { integration: { type: 'FUNCTION', handler: `${join(process.cwd(), 'test/fixtures/functions/odd-headers.mjs')}#handler` } } } },
          stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
        }],
      }, { threads });
      port = Number(new URL(gateway.dataUrl).port);
    });
    after(() => gateway.close());

    for (const kind of ['wide', 'crlf', 'name', 'multi']) {
      it(`${kind}: a 502 every time, nothing stored, no injected line`, async () => {
        for (let i = 0; i < 3; i++) {
          const wire = await rawExchange(port, `GET /prod/o/${kind} HTTP/1.1\r\nHost: odd.test\r\nConnection: close\r\n\r\n`);
          assert.match(wire, /^HTTP\/1\.1 502 Bad Gateway\r\n/, wire.slice(0, 200));
          assert.doesNotMatch(wire, /x-injected|cache-status: [^\r]*hit/i);
        }
      });
    }
  });
}
