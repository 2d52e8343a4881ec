/**
 * Raw HTTP and SDK checks of what the control plane refuses: anonymous callers, bad and expired
 * signatures, policies without the action, malformed bodies. Client mistakes are 4xx with
 * `x-amzn-errortype`, never a 5xx (the SDK would retry those).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { GetStageCommand, GetStagesCommand, UpdateStageCommand } from '@aws-sdk/client-api-gateway';
import { call } from '../../helpers/http.js';
import { ADMIN, ADMIN_API_KEY, REGION, sdkClient, startHarness, type Harness } from './harness.js';

describe('control-plane authentication, authorisation and input', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const stageUrl = () => `${h.gateway.adminUrl}/restapis/petstore/stages/prod`;
  const withKey = (method: string, body?: string) =>
    call(stageUrl(), { method, headers: { 'x-api-key': ADMIN_API_KEY, 'content-type': 'application/json' }, ...(body !== undefined ? { body } : {}) });

  it('anonymous: 403 MissingAuthenticationTokenException', async () => {
    const answer = await call(stageUrl());
    assert.equal(answer.status, 403);
    assert.equal(answer.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    assert.equal(answer.json().message, 'Missing Authentication Token');
  });

  it('x-api-key of an identity works; an unknown key is 403', async () => {
    assert.equal((await withKey('GET')).status, 200);
    const answer = await call(stageUrl(), { headers: { 'x-api-key': 'not-a-known-key' } });
    assert.equal(answer.status, 403);
    assert.ok(answer.headers['x-amzn-errortype']);
  });

  it('a wrong secret: the SDK raises InvalidSignatureException (403)', async () => {
    const client = sdkClient(h.gateway.adminUrl, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'wrong' });
    try {
      await assert.rejects(client.send(new GetStagesCommand({ restApiId: 'petstore' })), (error: { name: string; $metadata: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'InvalidSignatureException');
        assert.equal(error.$metadata.httpStatusCode, 403);
        return true;
      });
    } finally {
      client.destroy();
    }
  });

  it('an unknown access key: UnrecognizedClientException', async () => {
    const client = sdkClient(h.gateway.adminUrl, { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' });
    try {
      await assert.rejects(client.send(new GetStagesCommand({ restApiId: 'petstore' })), { name: 'UnrecognizedClientException' });
    } finally {
      client.destroy();
    }
  });

  it('a signature dated 20 minutes ago is refused (InvalidSignatureException, expired)', async () => {
    const url = new URL(stageUrl());
    const signer = new SignatureV4({ service: 'apigateway', region: REGION, credentials: ADMIN, sha256: Sha256 });
    const signed = await signer.sign(
      { method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host } },
      { signingDate: new Date(Date.now() - 20 * 60_000) },
    );
    const answer = await call(url.href, { headers: signed.headers as Record<string, string> });
    assert.equal(answer.status, 403);
    assert.equal(answer.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.match(answer.json().message, /expired/i);
  });

  it('a policy without apigateway:PATCH: AccessDeniedException, and GET still works', async () => {
    assert.equal((await h.readerSdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }))).stageName, 'prod');
    await assert.rejects(
      h.readerSdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'prod', patchOperations: [{ op: 'replace', path: '/cacheClusterEnabled', value: 'false' }] })),
      (error: { name: string; message: string; $metadata: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'AccessDeniedException');
        assert.equal(error.$metadata.httpStatusCode, 403);
        assert.match(error.message, /apigateway:PATCH/);
        return true;
      },
    );
    assert.equal((await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }))).cacheClusterEnabled, true);
  });

  for (const [name, method, body] of [
    ['malformed JSON', 'PATCH', '{"patchOperations": ['],
    ['a JSON array', 'PATCH', '[]'],
    ['patchOperations not a list', 'PATCH', '{"patchOperations": {"op": "replace"}}'],
    ['an operation without a path', 'PATCH', '{"patchOperations": [{"op": "replace"}]}'],
    ['a non-string value', 'PATCH', '{"patchOperations": [{"op": "replace", "path": "/cacheClusterEnabled", "value": true}]}'],
  ] as const) {
    it(`UpdateStage with ${name}: 400 BadRequestException`, async () => {
      const answer = await withKey(method, body);
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.headers['x-amzn-errortype'], 'BadRequestException');
      assert.equal(typeof answer.json().message, 'string');
    });
  }

  it('CreateStage and CreateDeployment with malformed bodies: 400', async () => {
    for (const [path, body] of [
      ['/restapis/petstore/stages', '{'],
      ['/restapis/petstore/stages', '{"stageName": 5}'],
      ['/restapis/petstore/stages', '{"stageName": "x", "variables": {"a": 1}}'],
      ['/restapis/petstore/deployments', 'null'],
      ['/restapis/petstore/deployments', '{"cacheClusterEnabled": "yes"}'],
      ['/restapis', '{"description": "no name"}'],
    ]) {
      const answer = await call(`${h.gateway.adminUrl}${path}`, { method: 'POST', headers: { 'x-api-key': ADMIN_API_KEY }, body });
      assert.equal(answer.status, 400, `${path} ${body}: ${answer.text}`);
      assert.equal(answer.headers['x-amzn-errortype'], 'BadRequestException');
    }
  });

  it('unknown admin paths are 404 NotFoundException; a wrong method is 405', async () => {
    const missing = await call(`${h.gateway.adminUrl}/restapis/petstore/nothing`, { headers: { 'x-api-key': ADMIN_API_KEY } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['x-amzn-errortype'], 'NotFoundException');
    const wrong = await call(`${h.gateway.adminUrl}/restapis/petstore/stages/prod`, { method: 'POST', headers: { 'x-api-key': ADMIN_API_KEY } });
    assert.equal(wrong.status, 405);
  });
});
