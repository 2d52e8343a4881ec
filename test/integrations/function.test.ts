import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { createFunctionIntegration } from '../../src/integrations/function.js';
import { IntegrationError, type IntegrationRequest } from '../../src/integrations/integration.js';
import type { LambdaProxyEvent } from '../../src/integrations/lambda-event.js';
import { callerOf, integrationRequest, readAll } from './helpers.js';

// Tests run compiled from dist/test/integrations/; the fixture modules stay in test/fixtures/.
const baseDir = fileURLToPath(new URL('../../../test/fixtures/functions/', import.meta.url));

function functionIntegration(handler: string, timeoutMs = 5_000) {
  return createFunctionIntegration({ type: 'FUNCTION', handler, timeoutMs }, { baseDir, accountId: '123456789012' });
}

interface Echo {
  event: LambdaProxyEvent;
  context: { awsRequestId: string; functionName: string; remainingMs: number; callbackWaitsForEmptyEventLoop: boolean };
}

async function echo(request: IntegrationRequest): Promise<Echo> {
  const response = await functionIntegration('./echo.mjs').invoke(request);
  assert.equal(response.statusCode, 200);
  return JSON.parse((await readAll(response.body)).toString()) as Echo;
}

function isIntegrationError(kind: IntegrationError['kind'], message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof IntegrationError, `expected an IntegrationError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('FUNCTION', () => {
  describe('the event (Lambda proxy integration, payload 1.0)', () => {
    it('carries the request as AWS shapes it', async () => {
      const { event, context } = await echo(integrationRequest({
        method: 'POST',
        path: '/fn/a%20b',
        resourcePath: '/fn/{name}',
        pathParameters: { name: 'a b' },
        rawQuery: 'a=1&a=2&b=x+y&c=%2B',
        stageVariables: { color: 'blue' },
        headers: [['Host', 'api.example.com'], ['X-Multi', 'one'], ['X-Multi', 'two'], ['User-Agent', 'curl/8']],
        body: Buffer.from('{"hello":"wörld"}'),
      }));
      assert.equal(event.resource, '/fn/{name}');
      assert.equal(event.path, '/fn/a%20b');
      assert.equal(event.httpMethod, 'POST');
      assert.deepEqual(event.headers, { Host: 'api.example.com', 'X-Multi': 'two', 'User-Agent': 'curl/8' });
      assert.deepEqual(event.multiValueHeaders, { Host: ['api.example.com'], 'X-Multi': ['one', 'two'], 'User-Agent': ['curl/8'] });
      assert.deepEqual(event.queryStringParameters, { a: '2', b: 'x y', c: '+' });
      assert.deepEqual(event.multiValueQueryStringParameters, { a: ['1', '2'], b: ['x y'], c: ['+'] });
      assert.deepEqual(event.pathParameters, { name: 'a b' });
      assert.deepEqual(event.stageVariables, { color: 'blue' });
      assert.equal(event.body, '{"hello":"wörld"}');
      assert.equal(event.isBase64Encoded, false);
      assert.deepEqual(event.requestContext, {
        accountId: '123456789012',
        apiId: 'testapi',
        stage: 'prod',
        requestId: 'req-1',
        resourcePath: '/fn/{name}',
        httpMethod: 'POST',
        path: '/prod/fn/a%20b',
        domainName: 'api.example.com',
        protocol: 'HTTP/1.1',
        requestTime: '02/Jan/2024:03:04:05 +0000',
        requestTimeEpoch: Date.UTC(2024, 0, 2, 3, 4, 5),
        identity: { sourceIp: '10.1.2.3', userAgent: 'curl/8' },
      });
      assert.equal(context.awsRequestId, 'req-1');
      assert.equal(context.functionName, 'echo');
      assert.ok(context.remainingMs > 0 && context.remainingMs <= 5_000, `remaining ${context.remainingMs}`);
      assert.equal(context.callbackWaitsForEmptyEventLoop, true);
    });

    it('uses null, as AWS does, for absent query, path parameters, stage variables and body', async () => {
      const { event } = await echo(integrationRequest());
      assert.equal(event.queryStringParameters, null);
      assert.equal(event.multiValueQueryStringParameters, null);
      assert.equal(event.pathParameters, null);
      assert.equal(event.stageVariables, null);
      assert.equal(event.body, null);
      assert.equal(event.isBase64Encoded, false);
    });

    it('base64-encodes a body that is not UTF-8 text', async () => {
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
      const { event } = await echo(integrationRequest({ method: 'POST', body: bytes }));
      assert.equal(event.isBase64Encoded, true);
      assert.deepEqual(Buffer.from(event.body!, 'base64'), bytes);
    });

    it('reads a streamed request body', async () => {
      const { event } = await echo(integrationRequest({ method: 'PUT', body: Readable.from([Buffer.from('part one, '), Buffer.from('part two')]) }));
      assert.equal(event.body, 'part one, part two');
    });

    it('keeps a query key named __proto__ as an ordinary parameter', async () => {
      const { event } = await echo(integrationRequest({ rawQuery: '__proto__=x&constructor=y' }));
      assert.deepEqual(event.multiValueQueryStringParameters, { ['__proto__']: ['x'], constructor: ['y'] });
    });

    it('refuses a body over 6 MB with 413, leaving the caller\'s stream undestroyed', async () => {
      const limit = 6 * 1024 * 1024;
      const integration = functionIntegration('./echo.mjs');
      const isTooLarge = (error: unknown) => error instanceof GatewayError && error.code === 'PAYLOAD_TOO_LARGE' && error.spec.status === 413;
      await assert.rejects(integration.invoke(integrationRequest({ method: 'POST', body: Buffer.alloc(limit + 1) })), isTooLarge);

      const chunk = Buffer.alloc(1024 * 1024);
      const stream = Readable.from((function* () { for (let i = 0; i < 8; i++) yield chunk; })());
      await assert.rejects(integration.invoke(integrationRequest({ method: 'POST', body: stream })), isTooLarge);
      assert.equal(stream.destroyed, false);

      const declared = Readable.from([Buffer.from('x')]);
      await assert.rejects(integration.invoke(integrationRequest({
        method: 'POST', body: declared, headers: [['Host', 'gw'], ['Content-Length', String(limit + 1)]],
      })), isTooLarge);

      // Exactly at the limit is accepted.
      const response = await integration.invoke(integrationRequest({ method: 'POST', body: Buffer.alloc(limit, 'a') }));
      assert.equal(response.statusCode, 200);
    });
  });

  describe('the result', () => {
    it('maps statusCode, headers and a text body; content-length is the real one', async () => {
      const response = await functionIntegration('./echo.mjs#named').invoke(integrationRequest({ method: 'PATCH' }));
      assert.equal(response.statusCode, 201);
      assert.equal((await readAll(response.body)).toString(), 'named PATCH');
      assert.equal(response.headers['content-length'], '11');
    });

    it('merges headers with multiValueHeaders as AWS does; set-cookie is a list; hop-by-hop dropped', async () => {
      const response = await functionIntegration('./shapes.mjs#headers').invoke(integrationRequest());
      assert.deepEqual(response.headers, {
        'set-cookie': ['b=2', 'c=3', 'a=1'],
        'x-multi': ['1', '2'],
        'x-both': 'same',
        'content-type': 'text/plain',
        'x-number': '7',
        'content-length': '5',
      });
      assert.equal((await readAll(response.body)).toString(), 'hello');
    });

    it('decodes a base64 body when isBase64Encoded is true', async () => {
      const response = await functionIntegration('./shapes.mjs#binary').invoke(integrationRequest());
      assert.deepEqual(await readAll(response.body), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]));
      assert.equal(response.headers['content-type'], 'image/png');
      assert.equal(response.headers['content-length'], '6');
    });

    it('answers an empty body when the result has none', async () => {
      const response = await functionIntegration('./shapes.mjs#noBody').invoke(integrationRequest());
      assert.equal(response.statusCode, 204);
      assert.equal((await readAll(response.body)).length, 0);
    });

    for (const shape of [
      'null', 'string', 'array', 'missingStatus', 'stringStatus', 'fractionStatus', 'lowStatus', 'highStatus',
      'objectBody', 'numberBody', 'headersNotObject', 'multiValueNotList', 'headerValueObject',
    ]) {
      it(`rejects a malformed result (${shape}) as bad-response`, async () => {
        const integration = functionIntegration('./shapes.mjs#shape');
        await assert.rejects(integration.invoke(integrationRequest({ rawQuery: `case=${shape}` })), isIntegrationError('bad-response', /malformed/));
      });
    }
  });

  describe('handler styles', () => {
    it('supports callback-style handlers', async () => {
      const response = await functionIntegration('./shapes.mjs#callbackStyle').invoke(integrationRequest({ requestId: 'cb-7' }));
      assert.equal((await readAll(response.body)).toString(), 'callback cb-7');
    });

    it('supports a plain function returning its result', async () => {
      const response = await functionIntegration('./shapes.mjs#syncResult').invoke(integrationRequest({ path: '/x' }));
      assert.equal((await readAll(response.body)).toString(), 'sync /x');
    });

    it('turns callback(error), a throw and a rejection into bad-response', async () => {
      await assert.rejects(functionIntegration('./shapes.mjs#callbackError').invoke(integrationRequest()), isIntegrationError('bad-response', /callback failure/));
      await assert.rejects(functionIntegration('./shapes.mjs#throws').invoke(integrationRequest()), isIntegrationError('bad-response', /blew up/));
      await assert.rejects(functionIntegration('./shapes.mjs#rejects').invoke(integrationRequest()), isIntegrationError('bad-response', /async handler blew up/));
    });

    it('times out a handler that never answers, promise or callback', async () => {
      for (const handler of ['./shapes.mjs#never', './shapes.mjs#neverCallback']) {
        const started = Date.now();
        await assert.rejects(functionIntegration(handler, 200).invoke(integrationRequest()), isIntegrationError('timeout'));
        assert.ok(Date.now() - started < 4_000);
      }
    });

    it('stops waiting when the caller goes away', async () => {
      const controller = new AbortController();
      const pending = functionIntegration('./shapes.mjs#never').invoke(integrationRequest({ caller: callerOf(controller.signal) }));
      setTimeout(() => controller.abort(new Error('caller left')), 20);
      await assert.rejects(pending, /caller left/);
    });
  });

  describe('loading', () => {
    it('reports a missing module, a missing export and a non-function export as bad-response', async () => {
      await assert.rejects(functionIntegration('./no-such-module.mjs').invoke(integrationRequest()), isIntegrationError('bad-response', /cannot load/));
      await assert.rejects(functionIntegration('./echo.mjs#missing').invoke(integrationRequest()), isIntegrationError('bad-response', /missing/));
      await assert.rejects(functionIntegration('./echo.mjs#notAFunction').invoke(integrationRequest()), isIntegrationError('bad-response', /not a function/));
    });

    it('resolves the module against baseDir, with or without ./', async () => {
      const response = await functionIntegration('shapes.mjs#syncResult').invoke(integrationRequest({ path: '/y' }));
      assert.equal((await readAll(response.body)).toString(), 'sync /y');
    });
  });
});
