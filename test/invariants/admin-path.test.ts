/**
 * SPEC §7 Guarantees: "One canonical request path: routing, authorization (ARNs, admin routes) …
 * so no spelling of a denied resource is allowed." On the admin listener every spelling of a path
 * — trailing slash, `//`, percent-encoding in either hex case, dot segments, an encoded `/` — gets
 * the decision of the canonical path, or a 4xx; a denied action never happens.
 *
 * Issue 13 defect 4: `DELETE /restapis/beta/stages/prod/cache/data/` and `DELETE /restapis/beta/`
 * succeeded against an explicit Deny (the router accepted `/?$`, the ARN was built from the raw path).
 *
 * Run with one gateway thread and with two (issue 17): the admin listener's descriptor is shared
 * too, each request opens a fresh connection (so either thread answers it), and a
 * deletion allowed on one thread would reach the other as an API change; flushes are counted over
 * both threads (/metrics).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { request } from 'node:http';
import { THREAD_COUNTS, threadsLabel } from '../helpers/threads.js';

const ADMIN_KEY = 'admin-path-admin-key';
const LIMITED_KEY = 'admin-path-limited-key';
const ARN = 'arn:aws:apigateway:us-east-1::';

function api(id: string, backend: CountingBackend) {
  return {
    id,
    resources: { '/pets': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets` } } } },
    stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cachingEnabled: true } } } },
  };
}

/** A canonical path → one random spelling of it that a lax router might take for the same resource. */
function spelling(canonical: string): fc.Arbitrary<string> {
  const segments = canonical.split('/').slice(1);
  const segment = (text: string) =>
    fc.array(fc.constantFrom('plain', 'upper', 'lower'), { minLength: text.length, maxLength: text.length }).map((choices) =>
      [...text].map((char, i) => {
        const hex = char.charCodeAt(0).toString(16).padStart(2, '0');
        return choices[i] === 'plain' ? char : choices[i] === 'upper' ? `%${hex.toUpperCase()}` : `%${hex.toLowerCase()}`;
      }).join(''));
  // Between two segments: `/`, `//`, `/./`, `/x/../`, or an encoded slash.
  const separator = fc.constantFrom('/', '/', '/', '//', '/./', '/x/../', '/%2F', '%2F', '%2f', '/%2e/', '/%2E%2E/x/');
  const ending = fc.constantFrom('', '', '/', '//', '/.', '/%2F', '?', '?x=1', '#frag'.replace('#', '?'));
  return fc.tuple(fc.tuple(...segments.map(segment)), fc.array(separator, { minLength: segments.length, maxLength: segments.length }), ending)
    .map(([parts, separators, end]) => parts.map((part, i) => `${i === 0 ? '/' : separators[i]}${part}`).join('') + end);
}

for (const threads of THREAD_COUNTS) describe(`invariant: every spelling of a denied admin resource is denied (or a 4xx) (${threadsLabel(threads)})`, () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      identities: [
        { name: 'admin', apiKey: ADMIN_KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] },
        {
          name: 'limited',
          apiKey: LIMITED_KEY,
          policy: [
            { effect: 'Allow', action: 'apigateway:*', resource: '*' },
            { effect: 'Deny', action: 'apigateway:DELETE', resource: [`${ARN}/restapis/beta`, `${ARN}/restapis/beta/stages/prod/cache/data`] },
          ],
        },
      ],
      apis: [api('alpha', backend), api('beta', backend)],
    }, { threads });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  /**
   * node:http sends the path byte for byte (undici and fetch would resolve dot segments first); a
   * fresh connection each time (no agent), so that with two threads either may answer.
   */
  const send = (method: string, path: string, key = LIMITED_KEY) =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string; json: () => any }>((resolve, reject) => {
      const url = new URL(gateway.adminUrl);
      const req = request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { 'x-api-key': key } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      });
      req.on('error', reject);
      req.end();
    });

  it('the reported spellings are refused and the API survives', async () => {
    for (const path of ['/restapis/beta/', '/restapis/beta/stages/prod/cache/data/', '/restapis/beta//', '/restapis/%62eta']) {
      const answer = await send('DELETE', path);
      assert.ok(answer.status >= 400 && answer.status < 500, `DELETE ${path} answered ${answer.status} ${answer.text}`);
      assert.equal(typeof answer.json().message, 'string');
    }
    assert.equal((await send('GET', '/restapis/beta', ADMIN_KEY)).status, 200, 'beta was deleted through another spelling');
  });

  for (const canonical of ['/restapis/beta', '/restapis/beta/stages/prod/cache/data']) {
    it(`DELETE ${canonical}: generated spellings never succeed`, async () => {
      const flushesBefore = await flushCount();
      await fc.assert(
        fc.asyncProperty(spelling(canonical), async (path) => {
          const answer = await send('DELETE', path);
          // The same decision as the canonical spelling (403 AccessDenied), or a 4xx naming the problem.
          assert.ok(answer.status >= 400 && answer.status < 500, `DELETE ${path} answered ${answer.status} ${answer.text}`);
          assert.ok(answer.headers['x-amzn-errortype'], `DELETE ${path}: no error type`);
        }),
        { seed: 1315, numRuns: 150, interruptAfterTimeLimit: 20_000 },
      );
      assert.equal((await send('GET', '/restapis/beta', ADMIN_KEY)).status, 200, 'beta was deleted');
      assert.equal(await flushCount(), flushesBefore, 'beta/prod was flushed');
    });
  }

  it('allowed spellings reach the same resource as the canonical path (or a 4xx)', async () => {
    const canonical = await send('GET', '/restapis/alpha/stages/prod');
    assert.equal(canonical.status, 200);
    await fc.assert(
      fc.asyncProperty(spelling('/restapis/alpha/stages/prod'), async (path) => {
        const answer = await send('GET', path);
        if (answer.status === 200) assert.deepEqual(answer.json().stageName, 'prod', path);
        else assert.ok(answer.status >= 400 && answer.status < 500, `GET ${path} answered ${answer.status}`);
      }),
      { seed: 1316, numRuns: 100, interruptAfterTimeLimit: 15_000 },
    );
  });

  it('the denied canonical paths answer AccessDeniedException naming the canonical ARN', async () => {
    const answer = await send('DELETE', '/restapis/beta/stages/prod/cache/data');
    assert.equal(answer.status, 403);
    assert.equal(answer.headers['x-amzn-errortype'], 'AccessDeniedException');
    assert.match(answer.json().message, /\/restapis\/beta\/stages\/prod\/cache\/data/);
  });

  async function flushCount(): Promise<number> {
    const text = await gateway.metricsText();
    const line = text.split('\n').find((row) => row.startsWith('cachegate_cache_invalidations_total') && row.includes('api="beta"') && row.includes('reason="flush"'));
    return line ? Number(line.split(' ').pop()) : 0;
  }
});
