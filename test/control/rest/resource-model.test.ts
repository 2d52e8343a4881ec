/**
 * The resource model through the real SDK, call by call as Terraform and the CLI drive it, and
 * deployments as snapshots (SPEC §8): an edit is invisible until deployed, two stages on
 * different deployments serve different routes, an export re-imports to the same behaviour.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestException,
  ConflictException,
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  CreateStageCommand,
  DeleteDeploymentCommand,
  DeleteMethodCommand,
  DeleteResourceCommand,
  GetExportCommand,
  GetIntegrationCommand,
  GetMethodCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetStageCommand,
  GetTagsCommand,
  ImportRestApiCommand,
  NotFoundException,
  PutIntegrationCommand,
  PutIntegrationResponseCommand,
  PutMethodCommand,
  PutMethodResponseCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateIntegrationCommand,
  UpdateResourceCommand,
  UpdateRestApiCommand,
  UpdateStageCommand,
  type APIGatewayClient,
} from '@aws-sdk/client-api-gateway';
import { call } from '../../helpers/http.js';
import { backendCallsDuring, withHarness, type Harness } from './harness.js';

const onApi = (h: Harness, apiId: string, path: string) => call(`${h.gateway.dataUrl}${path}`, { headers: { host: `${apiId}.execute-api.localhost` } });

/** CreateRestApi → /items/{id} GET (HTTP_PROXY, id keyed) and /hello GET (MOCK) → deployed to `prod` with the cache on. */
async function buildApi(sdk: APIGatewayClient, backendUrl: string) {
  const api = await sdk.send(new CreateRestApiCommand({ name: 'built', description: 'call by call' }));
  const restApiId = api.id!;
  const items = await sdk.send(new CreateResourceCommand({ restApiId, parentId: api.rootResourceId!, pathPart: 'items' }));
  const item = await sdk.send(new CreateResourceCommand({ restApiId, parentId: items.id!, pathPart: '{id}' }));
  await sdk.send(new PutMethodCommand({ restApiId, resourceId: item.id!, httpMethod: 'GET', authorizationType: 'NONE', requestParameters: { 'method.request.path.id': true, 'method.request.querystring.v': false } }));
  await sdk.send(new PutIntegrationCommand({
    restApiId, resourceId: item.id!, httpMethod: 'GET', type: 'HTTP_PROXY', integrationHttpMethod: 'GET', uri: `${backendUrl}/pets/{id}`,
    requestParameters: { 'integration.request.path.id': 'method.request.path.id' }, cacheKeyParameters: ['method.request.path.id', 'method.request.querystring.v'],
  }));
  const hello = await sdk.send(new CreateResourceCommand({ restApiId, parentId: api.rootResourceId!, pathPart: 'hello' }));
  await sdk.send(new PutMethodCommand({ restApiId, resourceId: hello.id!, httpMethod: 'GET', authorizationType: 'NONE' }));
  await sdk.send(new PutIntegrationCommand({ restApiId, resourceId: hello.id!, httpMethod: 'GET', type: 'MOCK', requestTemplates: { 'application/json': '{"statusCode": 200}' } }));
  await sdk.send(new PutMethodResponseCommand({ restApiId, resourceId: hello.id!, httpMethod: 'GET', statusCode: '200', responseParameters: { 'method.response.header.X-Built': true } }));
  await sdk.send(new PutIntegrationResponseCommand({
    restApiId, resourceId: hello.id!, httpMethod: 'GET', statusCode: '200', selectionPattern: '',
    responseParameters: { 'method.response.header.X-Built': "'yes'" }, responseTemplates: { 'application/json': '{"hello":"built"}' },
  }));
  const deployment = await sdk.send(new CreateDeploymentCommand({ restApiId, description: 'v1' }));
  await sdk.send(new CreateStageCommand({ restApiId, stageName: 'prod', deploymentId: deployment.id!, cacheClusterEnabled: true, cacheClusterSize: '0.5', tracingEnabled: true, tags: { team: 'pets' } }));
  return { restApiId, rootId: api.rootResourceId!, itemsId: items.id!, itemId: item.id!, helloId: hello.id!, deploymentId: deployment.id! };
}

describe('resource model, call by call', () => {
  it('builds, deploys and serves a cached API; GetMethod/GetIntegration report what was put', () => withHarness(async (h) => {
    const built = await buildApi(h.sdk, h.backend.url);
    const stage = await h.sdk.send(new GetStageCommand({ restApiId: built.restApiId, stageName: 'prod' }));
    assert.equal(stage.tracingEnabled, true);
    assert.deepEqual(stage.tags, { team: 'pets' });
    assert.equal(stage.deploymentId, built.deploymentId);
    await h.sdk.send(new UpdateStageCommand({ restApiId: built.restApiId, stageName: 'prod', patchOperations: [{ op: 'replace', path: '/*/*/caching/enabled', value: 'true' }] }));

    const first = await onApi(h, built.restApiId, '/prod/items/7?v=1');
    assert.equal(first.status, 200, first.text);
    const calls = await backendCallsDuring(h.backend, async () => {
      const again = await onApi(h, built.restApiId, '/prod/items/7?v=1');
      assert.match(String(again.headers['cache-status']), /hit/);
    });
    assert.equal(calls, 0);
    assert.equal(await backendCallsDuring(h.backend, () => onApi(h, built.restApiId, '/prod/items/7?v=2')), 1, 'v is in the key');
    const hello = await onApi(h, built.restApiId, '/prod/hello');
    assert.equal(hello.status, 200);
    assert.equal(hello.text, '{"hello":"built"}');
    assert.equal(hello.headers['x-built'], 'yes');

    const method = await h.sdk.send(new GetMethodCommand({ restApiId: built.restApiId, resourceId: built.itemId, httpMethod: 'GET' }));
    assert.equal(method.authorizationType, 'NONE');
    assert.equal(method.requestParameters?.['method.request.querystring.v'], false);
    const integration = await h.sdk.send(new GetIntegrationCommand({ restApiId: built.restApiId, resourceId: built.itemId, httpMethod: 'GET' }));
    assert.equal(integration.type, 'HTTP_PROXY');
    assert.equal(integration.uri, `${h.backend.url}/pets/{id}`);
    assert.equal(integration.httpMethod, 'GET');
    assert.deepEqual(integration.cacheKeyParameters, ['method.request.path.id', 'method.request.querystring.v']);
    const resources = await h.sdk.send(new GetResourcesCommand({ restApiId: built.restApiId }));
    assert.deepEqual(resources.items?.map((resource) => resource.path), ['/', '/hello', '/items', '/items/{id}']);
  }));

  it('an edit is invisible until deployed; two stages on different deployments serve different routes', () => withHarness(async (h) => {
    const built = await buildApi(h.sdk, h.backend.url);
    const extra = await h.sdk.send(new CreateResourceCommand({ restApiId: built.restApiId, parentId: built.rootId, pathPart: 'extra' }));
    await h.sdk.send(new PutMethodCommand({ restApiId: built.restApiId, resourceId: extra.id!, httpMethod: 'GET', authorizationType: 'NONE' }));
    // Not deployable yet: a method without an integration.
    await assert.rejects(h.sdk.send(new CreateDeploymentCommand({ restApiId: built.restApiId })), /No integration defined/);
    await h.sdk.send(new PutIntegrationCommand({ restApiId: built.restApiId, resourceId: extra.id!, httpMethod: 'GET', type: 'HTTP_PROXY', integrationHttpMethod: 'GET', uri: `${h.backend.url}/extra` }));
    await h.sdk.send(new UpdateIntegrationCommand({ restApiId: built.restApiId, resourceId: built.helloId, httpMethod: 'GET', patchOperations: [{ op: 'replace', path: '/requestTemplates/application~1json', value: '{"statusCode": 200}' }] }));
    await h.sdk.send(new DeleteMethodCommand({ restApiId: built.restApiId, resourceId: built.itemId, httpMethod: 'GET' }));
    assert.notEqual((await onApi(h, built.restApiId, '/prod/extra')).status, 200, 'the edit reached prod before a deployment');
    assert.equal((await onApi(h, built.restApiId, '/prod/items/1')).status, 200, 'the deleted method vanished before a deployment');

    const second = await h.sdk.send(new CreateDeploymentCommand({ restApiId: built.restApiId, stageName: 'beta' }));
    assert.equal((await onApi(h, built.restApiId, '/beta/extra')).status, 200);
    assert.notEqual((await onApi(h, built.restApiId, '/beta/items/1')).status, 200);
    assert.notEqual((await onApi(h, built.restApiId, '/prod/extra')).status, 200);
    assert.equal((await onApi(h, built.restApiId, '/prod/items/1')).status, 200);
    // A deployment a stage serves cannot be deleted; moving prod with /deploymentId frees v1.
    await assert.rejects(h.sdk.send(new DeleteDeploymentCommand({ restApiId: built.restApiId, deploymentId: built.deploymentId })), BadRequestException);
    await h.sdk.send(new UpdateStageCommand({ restApiId: built.restApiId, stageName: 'prod', patchOperations: [{ op: 'replace', path: '/deploymentId', value: second.id }] }));
    assert.equal((await onApi(h, built.restApiId, '/prod/extra')).status, 200);
    await h.sdk.send(new DeleteDeploymentCommand({ restApiId: built.restApiId, deploymentId: built.deploymentId }));
  }));

  it('config-file stages keep serving the configured routes until a deployment', () => withHarness(async (h) => {
    const api = await h.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }));
    const resources = await h.sdk.send(new GetResourcesCommand({ restApiId: 'petstore', limit: 100 }));
    const pets = resources.items!.find((resource) => resource.path === '/pets')!;
    await h.sdk.send(new DeleteResourceCommand({ restApiId: 'petstore', resourceId: pets.id! }));
    assert.equal((await h.get('/prod/pets/1')).status, 200, 'deleting a resource changed prod before a deployment');
    const renamed = await h.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: api.rootResourceId!, pathPart: 'animals' }));
    await h.sdk.send(new UpdateResourceCommand({ restApiId: 'petstore', resourceId: renamed.id!, patchOperations: [{ op: 'replace', path: '/pathPart', value: 'beasts' }] }));
    await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.notEqual((await h.get('/prod/pets/1')).status, 200);
    assert.equal((await h.get('/dev/pets/1')).status, 200, 'dev still serves the configured routes');
  }));

  it('UpdateStage takes Terraform\'s unescaped paths and remove; removing an absent setting is BadRequest', () => withHarness(async (h) => {
    const patch = (op: 'replace' | 'remove', path: string, value?: string) =>
      h.sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'prod', patchOperations: [{ op, path, ...(value !== undefined ? { value } : {}) }] }));
    let stage = await patch('replace', '/pets/{petId}/GET/caching/ttlInSeconds', '42');
    assert.equal(stage.methodSettings?.['pets/{petId}/GET']?.cacheTtlInSeconds, 42);
    stage = await patch('replace', '/~1pets~1{petId}/GET/caching/enabled', 'false');
    assert.equal(stage.methodSettings?.['pets/{petId}/GET']?.cachingEnabled, false);
    stage = await patch('replace', '/tracingEnabled', 'true');
    assert.equal(stage.tracingEnabled, true);
    stage = await patch('remove', '/pets/{petId}/GET');
    assert.equal(stage.methodSettings?.['pets/{petId}/GET'], undefined);
    await assert.rejects(patch('remove', '/pets/{petId}/GET'), (error) => error instanceof BadRequestException && /no method setting/.test(error.message));
  }));

  it('GetExport (oas30 JSON, swagger YAML) re-imports to the same behaviour', () => withHarness(async (h) => {
    const built = await buildApi(h.sdk, h.backend.url);
    const exported = await h.sdk.send(new GetExportCommand({ restApiId: built.restApiId, stageName: 'prod', exportType: 'oas30', accepts: 'application/json' }));
    const document = JSON.parse(new TextDecoder().decode(exported.body));
    assert.equal(document.openapi, '3.0.1');
    assert.equal(document.paths['/items/{id}'].get['x-amazon-apigateway-integration'].type, 'http_proxy');
    const yaml = await h.sdk.send(new GetExportCommand({ restApiId: built.restApiId, stageName: 'prod', exportType: 'swagger', accepts: 'application/yaml' }));
    assert.match(new TextDecoder().decode(yaml.body), /^swagger: "?2\.0"?/m);

    const copy = await h.sdk.send(new ImportRestApiCommand({ body: exported.body!, failOnWarnings: true }));
    await h.sdk.send(new CreateDeploymentCommand({ restApiId: copy.id!, stageName: 'prod', cacheClusterEnabled: true }));
    const hello = await onApi(h, copy.id!, '/prod/hello');
    assert.equal(hello.text, '{"hello":"built"}');
    assert.equal(hello.headers['x-built'], 'yes');
    await onApi(h, copy.id!, '/prod/items/3?v=1');
    assert.equal(await backendCallsDuring(h.backend, () => onApi(h, copy.id!, '/prod/items/3?v=1')), 0, 'the re-imported key caches');
    assert.equal(await backendCallsDuring(h.backend, () => onApi(h, copy.id!, '/prod/items/3?v=9')), 1, 'v is still in the key');
  }));

  it('tags, UpdateRestApi, and AWS error types', () => withHarness(async (h) => {
    const arn = 'arn:aws:apigateway:us-east-1::/restapis/petstore/stages/prod';
    await h.sdk.send(new TagResourceCommand({ resourceArn: arn, tags: { env: 'prod', team: 'a' } }));
    await h.sdk.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team'] }));
    assert.deepEqual((await h.sdk.send(new GetTagsCommand({ resourceArn: arn }))).tags, { env: 'prod' });
    assert.equal((await h.sdk.send(new UpdateRestApiCommand({ restApiId: 'petstore', patchOperations: [{ op: 'replace', path: '/name', value: 'Renamed' }] }))).name, 'Renamed');
    const root = (await h.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }))).rootResourceId!;
    await assert.rejects(h.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: root, pathPart: 'pets' })), ConflictException);
    await assert.rejects(h.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: 'nope', pathPart: 'x' })), NotFoundException);
    await assert.rejects(h.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: root, pathPart: 'a/b' })), BadRequestException);
    await assert.rejects(h.sdk.send(new GetMethodCommand({ restApiId: 'petstore', resourceId: root, httpMethod: 'GET' })), NotFoundException);
    await assert.rejects(h.sdk.send(new PutIntegrationCommand({ restApiId: 'petstore', resourceId: root, httpMethod: 'GET', type: 'AWS' })), (error) => error instanceof BadRequestException || error instanceof NotFoundException);
    // The reader (apigateway:GET only) may read but not change anything, tags included.
    await assert.rejects(h.readerSdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: root, pathPart: 'x' })), { name: 'AccessDeniedException' });
    await assert.rejects(h.readerSdk.send(new TagResourceCommand({ resourceArn: arn, tags: { a: 'b' } })), { name: 'AccessDeniedException' });
    assert.deepEqual((await h.readerSdk.send(new GetTagsCommand({ resourceArn: arn }))).tags, { env: 'prod' });
  }));

  it('AWS_PROXY runs only a function named in gateway.functions, never a path from the request', () => withHarness(async (h) => {
    const root = (await h.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }))).rootResourceId!;
    const fn = await h.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: root, pathPart: 'fn' }));
    await h.sdk.send(new PutMethodCommand({ restApiId: 'petstore', resourceId: fn.id!, httpMethod: 'GET', authorizationType: 'NONE' }));
    for (const uri of ['arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:nope/invocations', 'cachegate:function:../../etc/evil.js#x']) {
      await assert.rejects(h.sdk.send(new PutIntegrationCommand({ restApiId: 'petstore', resourceId: fn.id!, httpMethod: 'GET', type: 'AWS_PROXY', integrationHttpMethod: 'POST', uri })), BadRequestException);
    }
  }));
});
