/**
 * Attack pass on the Alibaba listener's authentication (docs/notes/attack-alibaba.md): what an
 * outsider who knows only an AppKey (it travels in every request, it is no secret) can make the
 * gateway do, through real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';
import { signed, type App } from '../alibaba/signing.js';

const A: App = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);

describe('Alibaba auth under attack', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apps: [A],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: { '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } } },
        stages: { prod: {} },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('a 15 KB request cannot make a multi-megabyte StringToSign (X-Ca-Signature-Headers naming one header thousands of times)', async () => {
    // Found: every listed name added its header's value again, and a signature mismatch echoes
    // the whole StringToSign in X-Ca-Error-Message and the body: 15 KB in, 56 MB out, +330 MB RSS.
    const spellings = ['a', 'A', 'a', ' a'];
    const names = Array.from({ length: 3000 }, (_, i) => spellings[i % spellings.length]).join(',') + ',x-ca-timestamp,x-ca-nonce';
    const request = `GET /prod/items HTTP/1.1\r\nHost: x\r\nx-ca-key: ${A.appKey}\r\nx-ca-signature: AAAA\r\n`
      + `x-ca-timestamp: ${Date.now()}\r\nx-ca-nonce: n-amplify\r\nx-ca-signature-headers: ${names}\r\na: ${'v'.repeat(6000)}\r\nConnection: close\r\n\r\n`;
    const answer = await rawExchange(port, request, 20_000);
    assert.equal(statusOf(answer), 400);
    assert.ok(answer.length < 64 * 1024, `answer of ${answer.length} bytes to a ${request.length}-byte request`);
    assert.match(answer, /x-ca-error-code: I400HD/);
  });

  it('the SDK-style signed request still passes', async () => {
    const answer = await call(`${gateway.dataUrl}/prod/items`, { headers: signed(A, '/prod/items', Date.now()) });
    assert.equal(answer.status, 200, answer.text);
  });
});

describe('Alibaba auth: X-Ca-Stage on an API that takes its stage from it', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`backend ${req.url}`);
    });
    gateway = await startGateway({
      apps: [A],
      apis: [{
        id: 'shop',
        stageFrom: 'header',
        appAuth: 'required',
        resources: { '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/\${stageVariables.env}/items` } } } },
        stages: { RELEASE: { variables: { env: 'production' } }, TEST: { variables: { env: 'test' } } },
      }],
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('a signed request cannot be moved to another stage by an unsigned X-Ca-Stage', async () => {
    // Found: X-Ca-Stage chose the stage (another backend, other data) but needed no signature, so
    // whoever held a signed TEST request could send it to RELEASE (or add X-Ca-Stage to one signed without it).
    const signedNames = ['x-ca-key', 'x-ca-nonce', 'x-ca-signature-method', 'x-ca-timestamp'];
    const moved = signed(A, '/items', Date.now(), { extra: { 'x-ca-stage': 'TEST' }, signedNames });
    moved['x-ca-stage'] = 'RELEASE';
    const answer = await call(`${gateway.dataUrl}/items`, { headers: moved });
    assert.equal(answer.status, 400, answer.text);
    assert.match(String(answer.headers['x-ca-error-message']), /x-ca-stage/i);
    const added = { ...signed(A, '/items', Date.now()), 'x-ca-stage': 'TEST' };
    assert.equal((await call(`${gateway.dataUrl}/items`, { headers: added })).status, 400);
  });

  it('signed X-Ca-Stage (as the SDK sends it) and no X-Ca-Stage at all still work', async () => {
    const test = await call(`${gateway.dataUrl}/items`, { headers: signed(A, '/items', Date.now(), { extra: { 'x-ca-stage': 'TEST' } }) });
    assert.equal(test.text, 'backend /test/items');
    const release = await call(`${gateway.dataUrl}/items`, { headers: signed(A, '/items', Date.now()) });
    assert.equal(release.text, 'backend /production/items');
  });
});

describe('Alibaba auth: one AppCode, one app', () => {
  it('a config giving two apps the same AppCode is refused (the second app silently took the first one\'s callers)', async () => {
    // Found: appKeys were checked for duplicates, AppCodes not: callers of app 1001 were
    // identified as app 1002 (its authorizedApps, its varyByApp cache entries).
    const { validateConfig } = await import('../../src/config/load.js');
    const config = {
      apps: [{ id: '1001', appCode: 'same-code-0123456789' }, { id: '1002', appCode: 'same-code-0123456789' }],
      apis: [{ id: 'shop', resources: { '/items': { GET: { integration: { type: 'MOCK', statusCode: 200 } } } }, stages: { prod: {} } }],
    };
    assert.throws(() => validateConfig(config, { source: '<test>', baseDir: process.cwd() }), (error: { lines?: () => string[] }) => {
      assert.match(error.lines?.().join('\n') ?? String(error), /apps\[1\]\.appCode: duplicate AppCode/);
      return true;
    });
  });
});

describe('Alibaba auth: a header the signature covers, sent twice', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apps: [A],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: { '/items': { ANY: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } } },
        stages: { prod: {} },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('a second Content-Type (or signed header) line is refused, not forwarded unsigned', async () => {
    // Found: Node keeps the first Content-Type (and User-Agent, Authorization, …) for the
    // StringToSign, while the integration was sent every line: whoever held a signed request
    // could add a second Content-Type that a backend reading the last line would act on.
    const xCa = ['x-ca-key', 'x-ca-nonce', 'x-ca-signature-method', 'x-ca-timestamp'];
    const cases = [
      { name: 'content-type', headers: signed(A, '/prod/items', Date.now()), first: 'Content-Type: \r\n', second: 'Content-Type: application/x-www-form-urlencoded\r\n' },
      { name: 'user-agent', headers: signed(A, '/prod/items', Date.now(), { extra: { 'user-agent': 'sdk' }, signedNames: [...xCa, 'user-agent'] }), first: '', second: 'User-Agent: evil\r\n' },
      { name: 'x-ca-nonce', headers: signed(A, '/prod/items', Date.now()), first: '', second: 'X-Ca-Nonce: other\r\n' },
    ];
    for (const { name, headers, first, second } of cases) {
      const lines = Object.entries(headers).map(([key, value]) => `${key}: ${value}\r\n`).join('');
      const calls = backend.calls;
      const answer = await rawExchange(port, `GET /prod/items HTTP/1.1\r\nHost: x\r\n${first}${lines}${second}Connection: close\r\n\r\n`);
      assert.equal(statusOf(answer), 400, `${name}: ${answer.slice(0, 400)}`);
      assert.equal(backend.calls, calls, `${name}: the integration was called`);
    }
  });
});

describe('Alibaba auth: a path that decodes to a query', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apps: [A],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } } },
        stages: { prod: {} },
      }],
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('a signature for `/prod/files?name=a` does not also cover `/prod/files%3Fname=a` (another resource)', async () => {
    // Found: the StringToSign decodes the path, so an encoded `?` in it spelled the same text as a
    // query: a held signed request could be turned into one for a file named `files?name=a`.
    const headers = signed(A, '/prod/files?name=a', Date.now());
    const answer = await call(`${gateway.dataUrl}/prod/files%3Fname=a`, { headers });
    assert.equal(answer.status, 400, `the backend got ${backend.seen.at(-1)?.url}`);
    // The request as signed still passes.
    assert.equal((await call(`${gateway.dataUrl}/prod/files?name=a`, { headers })).status, 200);
  });
});
