/**
 * Hostile input against who-may-do-what (docs/security.md "Access"): Host selects only configured
 * APIs, Alibaba app claims need proof, the admin listener needs an identity, and the console's
 * static files never reach the file system from a URL.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';

const READER_KEY = 'reader-api-key-0123456789';
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);

describe('hostile input: access', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let dataPort: number;
  let adminPort: number;
  const rawGet = (port: number, target: string, host = 'a.test') =>
    rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

  before(async () => {
    backend = await startBackend();
    const proxy = (path: string) => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
    gateway = await startGateway({
      // The traversal probes below name the admin listener admin.test (a DNS-rebinding guard refuses other names).
      gateway: { adminHosts: ['admin.test'] },
      identities: [{ name: 'reader', apiKey: READER_KEY, policy: [{ effect: 'Allow', action: 'apigateway:GET', resource: '*' }] }],
      apps: [{ id: '1001', appKey: 'app-key-1001', appSecret: 'app-secret-1001' }, { id: '2001', appCode: 'app-code-2001' }],
      cachePlugins: { perApp: { varyByApp: true, duration: 100 } },
      apis: [
        {
          id: 'alpha',
          host: 'alpha.test',
          resources: {
            '/pets': { GET: proxy('/alpha/pets') },
            '/products': { GET: { cachePlugin: 'perApp', ...proxy('/alpha/products') } },
          },
          stages: { prod: { cacheClusterEnabled: true } },
        },
        {
          id: 'beta',
          host: 'beta.test',
          resources: { '/pets': { GET: proxy('/beta/pets') } },
          stages: { prod: { cacheClusterEnabled: true } },
        },
      ],
    });
    dataPort = Number(new URL(gateway.dataUrl).port);
    adminPort = Number(new URL(gateway.adminUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    backend.seen.length = 0;
    await gateway.flushStage('alpha', 'prod');
    await gateway.flushStage('beta', 'prod');
  });

  describe('Host selects only configured APIs', () => {
    const bodyFor = async (host: string) => {
      const raw = await rawGet(dataPort, '/prod/pets', host);
      assert.equal(statusOf(raw), 200, raw.slice(0, 200));
      return raw;
    };

    it('the configured host, any case, with or without a port', async () => {
      assert.match(await bodyFor('beta.test'), /"path":"\/beta\/pets"/);
      assert.match(await bodyFor('BETA.Test'), /"path":"\/beta\/pets"/);
      assert.match(await bodyFor('beta.test:8443'), /"path":"\/beta\/pets"/);
      assert.match(await bodyFor('beta.execute-api.eu-west-1.amazonaws.com'), /"path":"\/beta\/pets"/);
    });

    it('a look-alike or unknown Host gets the first API, never another one', async () => {
      for (const host of ['beta.test.evil.example', 'evil-beta.test', 'evil.example', 'beta', 'nobody.execute-api.x', 'beta.test@evil.example']) {
        assert.match(await bodyFor(host), /"path":"\/alpha\/pets"/, host);
      }
    });

    it('one API\'s entry is never served for another API\'s Host', async () => {
      await bodyFor('alpha.test');
      const beta = await bodyFor('beta.test');
      assert.match(beta, /"path":"\/beta\/pets"/);
      assert.doesNotMatch(beta, /cache-status: [^\r]*hit/i);
    });

    it('a Host with whitespace or control characters is refused, never routed oddly', async () => {
      const raw = await rawExchange(dataPort, 'GET /prod/pets HTTP/1.1\r\nHost: beta.test\0evil\r\nConnection: close\r\n\r\n');
      assert.equal(statusOf(raw), 400);
      assert.equal(backend.seen.length, 0);
    });
  });

  describe('Alibaba app claims', () => {
    const products = (headers: Record<string, string>) => call(`${gateway.dataUrl}/prod/products`, { headers: { Host: 'alpha.test', ...headers } });

    // Statuses as Alibaba's gateway answers them (SPEC §6): 400 for a missing or wrong signature.
    it('X-Ca-Key without a signature is 400 and reaches neither the cache nor the backend', async () => {
      const answer = await products({ 'X-Ca-Key': 'app-key-1001' });
      assert.equal(answer.status, 400);
      assert.equal(answer.headers['x-ca-error-message'], 'Header `X-Ca-Signature` is Required');
      assert.equal(backend.seen.length, 0);
    });

    it('X-Ca-Key with a wrong signature is 400', async () => {
      const answer = await products({ 'X-Ca-Key': 'app-key-1001', 'X-Ca-Signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
      assert.equal(answer.status, 400);
      assert.equal(backend.seen.length, 0);
    });

    it('an unknown AppKey (400) or AppCode (401) is refused', async () => {
      assert.equal((await products({ 'X-Ca-Key': 'nobody' })).status, 400);
      assert.equal((await products({ Authorization: 'APPCODE wrong-code' })).status, 401);
      assert.equal(backend.seen.length, 0);
    });

    it('an anonymous caller never gets an app\'s entry (varyByApp)', async () => {
      const app = await products({ Authorization: 'APPCODE app-code-2001' });
      assert.equal(app.status, 200);
      const anonymous = await products({});
      assert.doesNotMatch(String(anonymous.headers['cache-status']), /hit/);
      assert.equal(backend.seen.length, 2);
    });
  });

  describe('admin listener', () => {
    const admin = (path: string, options: Parameters<typeof call>[1] = {}) => call(`${gateway.adminUrl}${path}`, options);

    it('the control plane without credentials is 403', async () => {
      assert.equal((await admin('/restapis')).status, 403);
      assert.equal((await admin('/restapis/alpha/stages/prod/cache/data', { method: 'DELETE' })).status, 403);
      assert.equal((await admin('/restapis/alpha/stages/prod', { method: 'PATCH', body: '{"patchOperations":[]}' })).status, 403);
    });

    it('a wrong API key or a forged SigV4 header is 403', async () => {
      assert.equal((await admin('/restapis', { headers: { 'x-api-key': 'guess' } })).status, 403);
      const forged = 'AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20240101/us-east-1/apigateway/aws4_request, SignedHeaders=host, Signature=00';
      assert.equal((await admin('/restapis', { headers: { authorization: forged } })).status, 403);
    });

    it('an identity is limited to its policy (GET only)', async () => {
      assert.equal((await admin('/restapis', { headers: { 'x-api-key': READER_KEY } })).status, 200);
      assert.equal((await admin('/restapis/alpha/stages/prod/cache/data', { method: 'DELETE', headers: { 'x-api-key': READER_KEY } })).status, 403);
    });

    it('the control plane is not reachable on the data listener, even with a valid API key', async () => {
      const answer = await call(`${gateway.dataUrl}/restapis`, { headers: { 'x-api-key': READER_KEY } });
      assert.notEqual(answer.status, 200);
    });
  });

  describe('console static files', () => {
    const traversals = [
      '/console/../../etc/passwd',
      '/console/assets/../../../../etc/passwd',
      '/console/%2e%2e/%2e%2e/etc/passwd',
      '/console/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/assets/..%2f..%2f..%2fpackage.json',
      '/console/assets/app.js%00.html',
      '/console/assets/app.js/',
      '/console//etc/passwd',
      '/console/assets/%5c..%5c..%5cpackage.json',
      '/console/vendor/../../../../package.json',
    ];
    for (const target of traversals) {
      it(`${target} serves no file`, async () => {
        const raw = await rawGet(adminPort, target, 'admin.test');
        const status = statusOf(raw);
        assert.ok(status === 400 || status === 403 || status === 404, `${status}: ${raw.slice(0, 120)}`);
        assert.doesNotMatch(raw, /root:|"name": "cachegate"|"dependencies"/);
      });
    }

    it('the real assets are still served', async () => {
      const page = await call(`${gateway.adminUrl}/console`);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    });
  });
});
