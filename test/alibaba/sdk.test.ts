/**
 * Issue 16 (Alibaba) through Alibaba's own Node SDK, aliyun-api-gateway 1.1.6, unchanged: it calls
 * `/path` and names the environment in X-Ca-Stage, signs every X-Ca-* header, decompresses gzip,
 * and reports errors from X-Ca-Request-Id / X-Ca-Error-Message. Real gateway, real backend.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { signed } from './signing.js';

interface SdkClient {
  get(url: string, options?: { headers?: Record<string, string>; query?: Record<string, string> }): Promise<unknown>;
  post(url: string, options?: { headers?: Record<string, string>; query?: Record<string, string>; data?: unknown }): Promise<unknown>;
}
const sdk = createRequire(import.meta.url)('aliyun-api-gateway') as {
  Client: new (key: string, secret: string, stage?: string) => SdkClient;
  SimpleClient: new (appCode: string) => SdkClient;
};

const A = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
const B = { id: '1002', appKey: 'key-b', appSecret: 'secret-b' };
const CODED = { id: '1003', appCode: 'code-c-0123456789' };

/** The SDK's rejection, as a caller sees it: its message carries the request id and X-Ca-Error-Message. */
async function refusal(promise: Promise<unknown>): Promise<{ code: number; message: string; headers: Record<string, string> }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as Error & { code: number; data: { headers: Record<string, string> } };
    return { code: failure.code, message: failure.message, headers: failure.data.headers };
  }
  throw new Error('the SDK call succeeded');
}

describe('Alibaba SDK (aliyun-api-gateway) against cachegate', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let privateGateway: Gateway;
  const url = (path: string) => `${gateway.dataUrl}${path}`;

  before(async () => {
    backend = await startBackend();
    const proxy = (path: string, plugin?: string) => ({ GET: { ...(plugin && { cachePlugin: plugin }), integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } } });
    gateway = await startGateway({
      apps: [A, B, CODED],
      cachePlugins: { perApp: { varyByApp: true, duration: 100 }, shared: { duration: 100, varyByParameters: ['x'] } },
      apis: [
        {
          id: 'shop',
          stageFrom: 'header',
          resources: {
            '/items': proxy('/items', 'perApp'), '/zipped': proxy('/zipped', 'shared'), '/plain': proxy('/plain'),
            '/orders': { POST: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/orders` } } },
          },
          stages: { RELEASE: {}, preview: { alibabaStage: 'PRE', variables: { env: 'pre' } } },
        },
      ],
    });
    // The SDK sets Host from the URL, so the access-controlled API gets a gateway of its own.
    privateGateway = await startGateway({
      apps: [A, B, CODED],
      apis: [{ id: 'private', appAuth: 'required', authorizedApps: ['1001', '1003'], resources: { '/secret': proxy('/secret') }, stages: { prod: {} } }],
    });
  });
  after(async () => {
    await privateGateway.close();
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    await gateway.flushStage('shop', 'RELEASE');
    backend.seen.length = 0;
    backend.calls = 0;
    backend.handler = (req, res, _body, n) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, call: n }));
  });

  it('accepts the SDK\'s signature; X-Ca-Stage picks the stage (RELEASE by default, PRE by mapping)', async () => {
    const release = await new sdk.Client(A.appKey, A.appSecret).get(url('/items')) as { path: string; call: number };
    assert.equal(release.path, '/items');
    const again = await new sdk.Client(A.appKey, A.appSecret, 'RELEASE').get(url('/items')) as { call: number };
    assert.equal(again.call, release.call, 'a hit of app 1001\'s entry');
    const pre = await new sdk.Client(A.appKey, A.appSecret, 'PRE').get(url('/items')) as { call: number };
    assert.notEqual(pre.call, release.call, 'PRE is another stage with its own cache');
    const test = await refusal(new sdk.Client(A.appKey, A.appSecret, 'TEST').get(url('/items')));
    assert.equal(test.code, 404);
    assert.match(test.message, /request id: [\w-]+, error message: No stage "TEST" on this API/);
  });

  it('verifies the SDK\'s form POST (form parameters are signed with the query) and forwards the body whole', async () => {
    backend.handler = (req, res, body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, type: req.headers['content-type'], body: body.toString() }));
    const client = new sdk.Client(A.appKey, A.appSecret);
    const form = await client.post(url('/orders'), { query: { page: '2' }, headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: { item: 'tea & cake', qty: '3' } }) as { path: string; body: string };
    assert.equal(form.path, '/orders?page=2');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(form.body)), { item: 'tea & cake', qty: '3' });
    const json = await client.post(url('/orders'), { data: { item: 'tea' } }) as { body: string };
    assert.deepEqual(JSON.parse(json.body), { item: 'tea' });
    // The form is covered: a body other than the one signed is refused (the SDK cannot send one, so by hand).
    const sendForm = async (signedForm: string, sentForm: string) => {
      const answer = await request(url('/orders'), { method: 'POST', headers: signed(A, '/orders', Date.now(), { form: signedForm }), body: sentForm });
      await answer.body.text();
      return { status: answer.statusCode, code: answer.headers['x-ca-error-code'] };
    };
    assert.deepEqual(await sendForm('qty=3', 'qty=3'), { status: 200, code: undefined });
    assert.deepEqual(await sendForm('qty=3', 'qty=300'), { status: 400, code: 'I400SG' });
  });

  it('replays a gzip answer with its Content-Encoding: the SDK reads the hit as it read the miss', async () => {
    const document = { items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}` })) };
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip', 'content-language': 'zh-CN' }).end(gzipSync(JSON.stringify(document)));
    const client = new sdk.Client(B.appKey, B.appSecret);
    assert.deepEqual(await client.get(url('/zipped'), { query: { x: '1' } }), document);
    assert.deepEqual(await client.get(url('/zipped'), { query: { x: '1' } }), document);
    assert.equal(backend.calls, 1, 'the second answer was a hit');
    const hit = await call(url('/zipped?x=1'));
    assert.equal(hit.headers['x-ca-caching'], 'true');
    assert.equal(hit.headers['content-encoding'], 'gzip');
    assert.equal(hit.headers['content-language'], 'zh-CN');
  });

  it('answers a wrong secret with X-Ca-Error-Code and the server\'s StringToSign, as Alibaba does', async () => {
    const failure = await refusal(new sdk.Client(A.appKey, 'not-the-secret').get(url('/items'), { query: { b: '2', a: '1' } }));
    assert.equal(failure.code, 400);
    assert.equal(failure.headers['x-ca-error-code'], 'I400SG');
    assert.match(failure.message, /request id: [\w-]+, error message: Invalid Signature, Server StringToSign:`GET#application\/json#{4}x-ca-key:key-a#x-ca-nonce:[\w-]+#x-ca-stage:RELEASE#x-ca-timestamp:\d+#\/items\?a=1&b=2`/);
    assert.equal(failure.headers['x-ca-request-id'], failure.headers['x-amzn-requestid']);
    assert.equal(backend.calls, 0);
  });

  it('takes an AppCode from the query (or APPCODE header), and removes it before forwarding and keying', async () => {
    const viaQuery = await call(url(`/zipped?x=7&AppCode=${CODED.appCode}`));
    assert.equal(viaQuery.status, 200);
    assert.equal(viaQuery.json().path, '/zipped?x=7', 'the backend never sees the AppCode');
    const viaSdk = await new sdk.SimpleClient(CODED.appCode).get(url('/zipped?x=7')) as { call: number };
    assert.equal(viaSdk.call, viaQuery.json().call, 'same key with or without the AppCode parameter');
    const wrong = await call(url('/zipped?x=7&appcode=nope'));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['x-ca-error-code'], 'A401AC');
  });

  it('appAuth and authorizedApps: anonymous callers and unlisted apps are refused with Alibaba\'s errors', async () => {
    const secretUrl = `${privateGateway.dataUrl}/prod/secret`;
    const withHost = (client: SdkClient) => client.get(secretUrl);
    const listed = await withHost(new sdk.Client(A.appKey, A.appSecret)) as { path: string };
    assert.equal(listed.path, '/secret');
    assert.equal(((await withHost(new sdk.SimpleClient(CODED.appCode))) as { path: string }).path, '/secret');
    const unlisted = await refusal(withHost(new sdk.Client(B.appKey, B.appSecret)));
    assert.equal(unlisted.code, 403);
    assert.match(unlisted.message, /error message: Unauthorized$/);
    const anonymous = await call(secretUrl);
    assert.equal(anonymous.status, 400);
    assert.equal(anonymous.headers['x-ca-error-code'], 'A400MA');
    assert.ok(anonymous.headers['x-ca-request-id']);
    assert.equal(backend.seen.filter((seen) => seen.url.startsWith('/secret')).length, 2, 'only the authorised calls reached the backend');
  });

  it('names an unreachable backend in Alibaba\'s terms on an app route', async () => {
    backend.handler = (_req, res) => res.destroy();
    const failure = await refusal(new sdk.Client(A.appKey, A.appSecret).get(url('/plain')));
    assert.equal(failure.code, 502);
    assert.ok(failure.headers['x-ca-error-code'], JSON.stringify(failure.headers));
    assert.match(failure.message, /request id: [\w-]+/);
  });
});
