/**
 * The real `@aws-sdk/client-api-gateway` signs requests against a tiny node:http server that runs
 * verifySigV4 on exactly what arrives: proves SDK signatures verify end to end (paths, queries,
 * JSON bodies), and that a wrong secret is refused with an error the SDK understands.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  APIGatewayClient,
  FlushStageCacheCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import { sendError } from '../../src/errors.js';
import { verifySigV4, type SigV4Result } from '../../src/auth/sigv4.js';

const REGION = 'us-east-1';
const credentials = { accessKeyId: 'AKIDSDKTEST', secretAccessKey: 'sdk-test-secret/with+chars' };

interface Seen {
  method: string;
  url: string;
  body: string;
  result: SigV4Result | undefined;
}

describe('verifySigV4 with the real AWS SDK (apigateway)', () => {
  let server: Server;
  let endpoint: string;
  const seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        void verifySigV4(
          { method: req.method ?? 'GET', rawUrl: req.url ?? '/', rawHeaders: req.rawHeaders, body },
          { service: 'apigateway', region: REGION, now: Date.now(), secretFor: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined) },
        ).then((result) => {
          seen.push({ method: req.method ?? '', url: req.url ?? '', body: body?.toString() ?? '', result });
          if (!result?.ok) return sendError(res, result ? result.code : 'MISSING_AUTHENTICATION', result?.ok === false ? result.message : undefined);
          const status = req.method === 'DELETE' ? 202 : 200;
          const answer = req.url === '/restapis' ? '{"item":[]}' : req.method === 'DELETE' ? '' : '{}';
          res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (secretAccessKey = credentials.secretAccessKey) =>
    new APIGatewayClient({ region: REGION, endpoint, credentials: { ...credentials, secretAccessKey }, maxAttempts: 1 });

  const last = () => seen[seen.length - 1]!;

  it('GetRestApis verifies', async () => {
    const out = await client().send(new GetRestApisCommand({}));
    assert.deepEqual(out.items ?? [], []);
    assert.deepEqual(last().result, { ok: true, accessKeyId: credentials.accessKeyId });
  });

  it('GetRestApi with spaces, braces and ~ in the id verifies (double-encoded path)', async () => {
    await client().send(new GetRestApiCommand({ restApiId: 'pet store{1}~x' }));
    assert.equal(last().url, '/restapis/pet%20store%7B1%7D~x');
    assert.equal(last().result?.ok, true);
  });

  it('GetResources with repeated query keys verifies', async () => {
    await client().send(new GetResourcesCommand({ restApiId: 'petstore', limit: 25, position: 'a b/c', embed: ['methods', 'integration'] }));
    assert.match(last().url, /embed=methods&embed=integration/);
    assert.equal(last().result?.ok, true);
  });

  it('FlushStageCache (DELETE …/cache/data) verifies', async () => {
    await client().send(new FlushStageCacheCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal(last().method, 'DELETE');
    assert.equal(last().url, '/restapis/petstore/stages/prod/cache/data');
    assert.equal(last().result?.ok, true);
  });

  it('UpdateStage with a JSON body verifies', async () => {
    await client().send(
      new UpdateStageCommand({
        restApiId: 'petstore',
        stageName: 'prod',
        patchOperations: [
          { op: 'replace', path: '/~1pets~1{petId}/GET/caching/enabled', value: 'true' },
          { op: 'replace', path: '/*/*/caching/ttlInSeconds', value: '60' },
        ],
      }),
    );
    assert.equal(last().method, 'PATCH');
    assert.match(last().body, /~1pets~1\{petId\}/);
    assert.equal(last().result?.ok, true);
  });

  it('a wrong secret is refused with InvalidSignatureException, which the SDK raises', async () => {
    await assert.rejects(client('wrong-secret').send(new GetRestApisCommand({})), (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(error.name, 'InvalidSignatureException');
      assert.equal(error.$metadata?.httpStatusCode, 403);
      return true;
    });
    assert.deepEqual(last().result, { ok: false, code: 'INVALID_SIGNATURE', message: undefined });
  });
});
