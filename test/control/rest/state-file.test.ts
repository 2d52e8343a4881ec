/** Control-plane changes survive a restart through gateway.stateFile (single node). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateDeploymentCommand, CreateResourceCommand, GetRestApiCommand, GetStageCommand, GetStagesCommand, PutIntegrationCommand, PutMethodCommand, UpdateStageCommand } from '@aws-sdk/client-api-gateway';
import { backendCallsDuring, startHarness } from './harness.js';

describe('gateway.stateFile', () => {
  it('UpdateStage and CreateDeployment changes are saved and reloaded at start', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'cachegate-state-')), 'state.json');
    const first = await startHarness({ gateway: { stateFile } });
    try {
      await first.sdk.send(new UpdateStageCommand({
        restApiId: 'petstore', stageName: 'prod',
        patchOperations: [
          { op: 'replace', path: '/*/*/caching/ttlInSeconds', value: '42' },
          { op: 'replace', path: '/~1pets~1{petId}/GET/caching/enabled', value: 'false' },
        ],
      }));
      await first.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'qa', cacheClusterEnabled: true }));
      assert.ok(existsSync(stateFile));
      assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).version, 1);
    } finally {
      await first.close();
    }

    const second = await startHarness({ gateway: { stateFile } });
    try {
      const prod = await second.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
      assert.equal(prod.methodSettings?.['*/*']?.cacheTtlInSeconds, 42);
      assert.equal(prod.methodSettings?.['pets/{petId}/GET']?.cachingEnabled, false);
      const stages = await second.sdk.send(new GetStagesCommand({ restApiId: 'petstore' }));
      assert.deepEqual(stages.item?.map((stage) => stage.stageName).sort(), ['dev', 'prod', 'qa']);
      // Traffic follows the reloaded settings: `/where` goes to ${stageVariables.backend}, which
      // still names the first run's (closed) backend, so point it at this run's and see it cached.
      await second.sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'prod', patchOperations: [{ op: 'replace', path: '/variables/backend', value: second.backend.address }] }));
      const calls = await backendCallsDuring(second.backend, async () => {
        assert.equal((await second.get('/prod/where')).status, 200);
        assert.equal((await second.get('/prod/where')).status, 200);
      });
      assert.equal(calls, 1);
    } finally {
      await second.close();
    }
  });

  it('deployments and stage pointers survive a restart; an undeployed edit stays undeployed', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'cachegate-state-')), 'state.json');
    const first = await startHarness({ gateway: { stateFile } });
    try {
      const root = (await first.sdk.send(new GetRestApiCommand({ restApiId: 'petstore' }))).rootResourceId!;
      const add = async (pathPart: string) => {
        const resource = await first.sdk.send(new CreateResourceCommand({ restApiId: 'petstore', parentId: root, pathPart }));
        await first.sdk.send(new PutMethodCommand({ restApiId: 'petstore', resourceId: resource.id!, httpMethod: 'GET', authorizationType: 'NONE' }));
        await first.sdk.send(new PutIntegrationCommand({ restApiId: 'petstore', resourceId: resource.id!, httpMethod: 'GET', type: 'MOCK', requestTemplates: { 'application/json': '{"statusCode": 200}' } }));
      };
      await add('deployed');
      await first.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'prod' }));
      await add('pending');
    } finally {
      await first.close();
    }
    const second = await startHarness({ gateway: { stateFile } });
    try {
      assert.equal((await second.get('/prod/deployed')).status, 200);
      assert.notEqual((await second.get('/prod/pending')).status, 200, 'an undeployed edit was served after a restart');
      assert.notEqual((await second.get('/dev/deployed')).status, 200, 'dev is pinned to the configured routes');
    } finally {
      await second.close();
    }
  });
});
