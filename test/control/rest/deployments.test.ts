/** CreateDeployment, GetDeployments, CreateStage, DeleteStage, GetRestApis/GetRestApi/GetResources through the real SDK. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestException,
  ConflictException,
  CreateDeploymentCommand,
  CreateStageCommand,
  DeleteStageCommand,
  GetDeploymentsCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  GetStageCommand,
  GetStagesCommand,
  NotFoundException,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import { backendCallsDuring, withHarness } from './harness.js';


describe('RestApis and resources', () => {
  it('GetRestApis lists the configured API (wire key item → items)', () => withHarness(async (h) => {
    const out = await h.sdk.send(new GetRestApisCommand({}));
    assert.equal(out.items?.length, 1);
    const api = out.items![0]!;
    assert.equal(api.id, 'petstore');
    assert.equal(api.name, 'PetStore');
    assert.ok(api.createdDate instanceof Date);
    assert.deepEqual(api.endpointConfiguration?.types, ['REGIONAL']);
    assert.equal(typeof api.rootResourceId, 'string');
  }));

  it('GetRestApi; unknown id is NotFoundException', () => withHarness(async (h) => {
    assert.equal((await h.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }))).name, 'PetStore');
    await assert.rejects(h.sdk.send(new GetRestApiCommand({ restApiId: 'nope' })), NotFoundException);
  }));

  it('GetResources returns the tree with parents and, with embed=methods, integrations', () => withHarness(async (h) => {
    const out = await h.sdk.send(new GetResourcesCommand({ restApiId: 'petstore', embed: ['methods'], limit: 100 }));
    const byPath = new Map(out.items?.map((resource) => [resource.path, resource]));
    assert.deepEqual([...byPath.keys()].sort(), ['/', '/pets', '/pets/{petId}', '/where']);
    const pet = byPath.get('/pets/{petId}')!;
    assert.equal(pet.parentId, byPath.get('/pets')!.id);
    assert.equal(pet.pathPart, '{petId}');
    assert.deepEqual(Object.keys(pet.resourceMethods ?? {}).sort(), ['GET', 'POST']);
    const get = pet.resourceMethods!.GET!;
    assert.equal(get.methodIntegration?.type, 'HTTP_PROXY');
    assert.equal(get.methodIntegration?.uri, `${h.backend.url}/pets/{petId}`);
    assert.equal(get.requestParameters?.['method.request.path.petId'], true);
    assert.equal(byPath.get('/')!.id, (await h.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }))).rootResourceId);
  }));

  it('GetResources pages with limit/position', () => withHarness(async (h) => {
    const first = await h.sdk.send(new GetResourcesCommand({ restApiId: 'petstore', limit: 3 }));
    assert.equal(first.items?.length, 3);
    assert.ok(first.position);
    const rest = await h.sdk.send(new GetResourcesCommand({ restApiId: 'petstore', limit: 3, position: first.position }));
    assert.equal(rest.items?.length, 1);
    assert.equal(rest.position, undefined);
  }));
});

describe('CreateDeployment / CreateStage / DeleteStage', () => {
  it('CreateDeployment with stageName creates a cached stage that serves traffic', () => withHarness(async (h) => {
    const deployment = await h.sdk.send(new CreateDeploymentCommand({
      restApiId: 'petstore', stageName: 'qa', description: 'first', stageDescription: 'QA',
      cacheClusterEnabled: true, cacheClusterSize: '0.5', variables: { backend: h.backend.address },
    }));
    assert.match(deployment.id ?? '', /^[a-z0-9]{6}$/);
    assert.equal(deployment.description, 'first');
    assert.ok(deployment.createdDate instanceof Date);
    const qa = await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'qa' }));
    assert.equal(qa.deploymentId, deployment.id);
    assert.equal(qa.description, 'QA');
    assert.equal(qa.cacheClusterStatus, 'AVAILABLE');
    assert.equal((await h.get('/qa/where')).status, 200);
    const calls = await backendCallsDuring(h.backend, async () => {
      await h.get('/qa/pets/7');
      await h.get('/qa/pets/7');
    });
    assert.equal(calls, 1);
    const listed = await h.sdk.send(new GetDeploymentsCommand({ restApiId: 'petstore' }));
    assert.deepEqual(listed.items?.map((item) => item.id), [deployment.id]);
    const byDeployment = await h.sdk.send(new GetStagesCommand({ restApiId: 'petstore', deploymentId: deployment.id }));
    assert.deepEqual(byDeployment.item?.map((stage) => stage.stageName), ['qa']);
  }));

  it('CreateDeployment on an existing stage updates its cache settings and deployment', () => withHarness(async (h) => {
    const deployment = await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'dev', cacheClusterEnabled: true }));
    const dev = await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'dev' }));
    assert.equal(dev.deploymentId, deployment.id);
    assert.equal(dev.cacheClusterEnabled, true);
    const calls = await backendCallsDuring(h.backend, async () => {
      await h.get('/dev/pets/1');
      await h.get('/dev/pets/1');
    });
    assert.equal(calls, 1);
    // UpdateStage /deploymentId accepts a known deployment.
    const second = await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
    const updated = await h.sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [{ op: 'replace', path: '/deploymentId', value: second.id }] }));
    assert.equal(updated.deploymentId, second.id);
  }));

  it('CreateDeployment errors: unknown API, bad cache size', () => withHarness(async (h) => {
    await assert.rejects(h.sdk.send(new CreateDeploymentCommand({ restApiId: 'nope', stageName: 'x' })), NotFoundException);
    await assert.rejects(h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'x', cacheClusterSize: '2' as '0.5' })), (error) => {
      assert.ok(error instanceof BadRequestException);
      assert.match(error.message, /cacheClusterSize/);
      return true;
    });
  }));

  it('CreateStage from a deployment serves traffic; a duplicate is ConflictException; DeleteStage removes it', () => withHarness(async (h) => {
    const deployment = await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
    const stage = await h.sdk.send(new CreateStageCommand({
      restApiId: 'petstore', stageName: 'beta', deploymentId: deployment.id!, variables: { backend: h.backend.address }, cacheClusterEnabled: false,
    }));
    assert.equal(stage.stageName, 'beta');
    assert.equal(stage.deploymentId, deployment.id);
    assert.equal(stage.cacheClusterStatus, 'NOT_AVAILABLE');
    assert.equal((await h.get('/beta/pets/1')).status, 200);
    await assert.rejects(h.sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'beta', deploymentId: deployment.id! })), ConflictException);
    await assert.rejects(h.sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'gamma', deploymentId: 'zzzzzz' })), BadRequestException);
    await assert.rejects(h.sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'bad name!', deploymentId: deployment.id! })), BadRequestException);

    await h.sdk.send(new DeleteStageCommand({ restApiId: 'petstore', stageName: 'beta' }));
    await assert.rejects(h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'beta' })), NotFoundException);
    const after = await h.get('/beta/pets/1');
    assert.ok(after.status === 403 || after.status === 404, `unknown stage answers ${after.status}`);
    await assert.rejects(h.sdk.send(new DeleteStageCommand({ restApiId: 'petstore', stageName: 'beta' })), NotFoundException);
  }));

  it('deleting a stage keeps the other stage\'s entries', () => withHarness(async (h) => {
    await h.get('/prod/pets/1');
    await h.sdk.send(new DeleteStageCommand({ restApiId: 'petstore', stageName: 'dev' }));
    assert.equal(await backendCallsDuring(h.backend, () => h.get('/prod/pets/1')), 0);
  }));
});
