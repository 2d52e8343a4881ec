/**
 * Attack pass on Alibaba signatures (docs/notes/attack-alibaba.md): gaps left open, each shown by
 * a test marked todo with the reason it is not fixed here.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { signed, type App } from '../alibaba/signing.js';

const A: App = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
const config = (backendUrl: string) => ({
  apps: [A],
  apis: [{
    id: 'shop',
    appAuth: 'required',
    resources: { '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backendUrl}/items` } } } },
    stages: { prod: {} },
  }],
});

describe('Alibaba signatures: known gaps', () => {
  it('one signature covers `?a=x%26b%3Dy` (one parameter) and `?a=x&b=y` (two)', {
    todo: 'Alibaba\'s StringToSign joins decoded names and values with & and =, so both spell `a=x&b=y` (the SDK signs {a:"x&b=y"} so); '
      + 'refusing & and = inside signed names/values would break such SDK calls. Needs a signed request not yet sent (a man in the middle, a leaked request).',
  }, async () => {
    const backend = await startBackend();
    const gateway = await startGateway(config(backend.url));
    try {
      const now = Date.now();
      const headers: Record<string, string> = {
        accept: 'application/json', 'x-ca-key': A.appKey, 'x-ca-nonce': randomUUID(), 'x-ca-signature-method': 'HmacSHA256',
        'x-ca-timestamp': String(now), 'x-ca-signature-headers': 'x-ca-key,x-ca-nonce,x-ca-signature-method,x-ca-timestamp',
      };
      const names = headers['x-ca-signature-headers']!.split(',');
      // What the SDK signs for query { a: 'x&b=y' } (sent as ?a=x%26b%3Dy).
      const toSign = `GET\napplication/json\n\n\n\n${names.map((n) => `${n}:${headers[n]}\n`).join('')}/prod/items?a=x&b=y`;
      headers['x-ca-signature'] = createHmac('sha256', A.appSecret).update(toSign).digest('base64');
      // Sent instead with the parameter split in two.
      const altered = await call(`${gateway.dataUrl}/prod/items?a=x&b=y`, { headers });
      assert.equal(altered.status, 400, `the backend got ${backend.seen.at(-1)?.url}`);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('a gateway restarted (memory store) or a Redis flushed forgets nonces: a request of the last 15 minutes replays', {
    todo: 'nonce records live in memory (or a Redis without persistence); refusing timestamps older than the record\'s start '
      + 'would refuse every client whose clock lags for that long after each restart. Run Redis with AOF where replay matters.',
  }, async () => {
    const backend = await startBackend();
    const headers = signed(A, '/prod/items', Date.now());
    try {
      const first = await startGateway(config(backend.url));
      assert.equal((await call(`${first.dataUrl}/prod/items`, { headers })).status, 200);
      await first.close();
      const second = await startGateway(config(backend.url));
      try {
        assert.equal((await call(`${second.dataUrl}/prod/items`, { headers })).status, 400, 'replayed after a restart');
      } finally {
        await second.close();
      }
    } finally {
      await backend.close();
    }
  });
});
