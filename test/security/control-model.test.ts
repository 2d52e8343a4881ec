/**
 * Hostile control-plane callers against the resource model (issue 15, docs/notes/attack-control.md):
 * an identity denied one stage acting on it through another operation, patch lists and maps that
 * make one request cost minutes, imports past the resource bound, definitions that grow without
 * bound, and stage names that vanish into a prototype.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  APIGatewayClient,
  CreateDeploymentCommand,
  CreateStageCommand,
  GetResourcesCommand,
  GetStageCommand,
  ImportRestApiCommand,
  PutIntegrationCommand,
  PutRestApiCommand,
  UpdateIntegrationCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { ADMIN, ADMIN_API_KEY, identities, petstore, REGION } from '../control/rest/harness.js';
import { MAX_DEFINITIONS_BYTES } from '../../src/control/rest/changes.js';

const LIMITED = { accessKeyId: 'AKIDLIMITEDSTAGE', secretAccessKey: 'limited-stage-secret' };
const DEPLOYER = { accessKeyId: 'AKIDDEPLOYERONLY', secretAccessKey: 'deployer-only-secret' };
const arn = (path: string) => `arn:aws:apigateway:${REGION}::${path}`;
const client = (endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new APIGatewayClient({ endpoint, region: REGION, credentials: { ...credentials }, maxAttempts: 1 });
const errorName = (promise: Promise<unknown>) => promise.then(() => 'ok', (error: Error) => error.name);

describe('control plane under attack: the resource model', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let sdk: APIGatewayClient;
  let limited: APIGatewayClient;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      identities: [
        ...identities(),
        // Everything on petstore except its prod stage.
        // A deployer role as AWS documents it: CreateDeployment on the deployments ARN only.
        { name: 'deployer', ...DEPLOYER, policy: [{ effect: 'Allow', action: 'apigateway:POST', resource: arn('/restapis/petstore/deployments') }] },
        {
          name: 'limited', ...LIMITED, policy: [
            { effect: 'Allow', action: 'apigateway:*', resource: arn('/restapis/petstore/*') },
            { effect: 'Deny', action: 'apigateway:*', resource: [arn('/restapis/petstore/stages/prod'), arn('/restapis/petstore/stages/prod/*')] },
          ],
        },
      ],
      apis: [petstore(backend)],
    });
    sdk = client(gateway.adminUrl, ADMIN);
    limited = client(gateway.adminUrl, LIMITED);
  });
  after(async () => {
    sdk.destroy();
    limited.destroy();
    await gateway.close();
    await backend.close();
  });

  it('CreateDeployment with stageName is authorised on that stage: a Deny on prod keeps prod as it is', async () => {
    const before = await sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal(await errorName(limited.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'prod', patchOperations: [{ op: 'replace', path: '/variables/backend', value: 'evil.example:80' }] }))), 'AccessDeniedException');
    // The same change through CreateDeployment: prod's backend variable and deployment.
    assert.equal(await errorName(limited.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'prod', variables: { backend: 'evil.example:80' }, cacheClusterEnabled: false }))), 'AccessDeniedException');
    const afterwards = await sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.deepEqual(afterwards.variables, before.variables);
    assert.equal(afterwards.deploymentId, before.deploymentId);
    assert.equal(afterwards.cacheClusterEnabled, true);
    // What the policy allows still works: a deployment to a stage it may create, and one without a stage.
    await limited.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'canary' }));
    await limited.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
  });

  it('CreateDeployment with stageName needs only the deployments ARN when nothing denies the stage (as on AWS)', async () => {
    const deployer = client(gateway.adminUrl, DEPLOYER);
    try {
      const deployment = await deployer.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'beta' }));
      const stage = await sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'beta' }));
      assert.equal(stage.deploymentId, deployment.id);
      // The role names nothing else: UpdateStage itself stays refused.
      assert.equal(await errorName(deployer.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'beta', patchOperations: [{ op: 'replace', path: '/description', value: 'x' }] }))), 'AccessDeniedException');
    } finally {
      deployer.destroy();
    }
  });

  it('a long UpdateStage patch list answers at once (bounded), not after minutes of event-loop time', async () => {
    // 4000 operations are ~200 KB: before the fix this took over 30 s of one core (each op copied the map).
    const ops = Array.from({ length: 4000 }, (_, i) => ({ op: 'add' as const, path: `/variables/v${i}`, value: 'x' }));
    const started = Date.now();
    const answer = await errorName(sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: ops })));
    const elapsed = Date.now() - started;
    assert.equal(answer, 'BadRequestException');
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    // As many integration patch operations: the same bound.
    const resources = await sdk.send(new GetResourcesCommand({ restApiId: 'petstore' }));
    const pets = resources.items!.find((item) => item.path === '/pets')!;
    const templateOps = Array.from({ length: 4000 }, (_, i) => ({ op: 'add' as const, path: `/requestTemplates/t${i}`, value: 'x' }));
    const t2 = Date.now();
    assert.equal(await errorName(sdk.send(new UpdateIntegrationCommand({ restApiId: 'petstore', resourceId: pets.id!, httpMethod: 'GET', patchOperations: templateOps }))), 'BadRequestException');
    assert.ok(Date.now() - t2 < 3000, `took ${Date.now() - t2} ms`);
  });

  it('stage variables keep AWS bounds (100 per stage, key ≤64, value ≤512) on every path that sets them', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, 'x']));
    assert.equal(await errorName(sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'vars1', variables: many }))), 'BadRequestException');
    assert.equal(await errorName(sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'vars1', variables: { long: 'x'.repeat(513) } }))), 'BadRequestException');
    const deployment = await sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
    assert.equal(await errorName(sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'vars2', deploymentId: deployment.id!, variables: many }))), 'BadRequestException');
    assert.equal(await errorName(sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'vars2', deploymentId: deployment.id!, variables: { ['k'.repeat(65)]: 'x' } }))), 'BadRequestException');
    // 100 through patches: fine; the 101st refused.
    const hundred = Array.from({ length: 98 }, (_, i) => ({ op: 'add' as const, path: `/variables/p${i}`, value: 'x'.repeat(512) }));
    await sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: hundred })); // dev has `backend`: 99
    await sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [{ op: 'add', path: '/variables/last', value: 'x' }] }));
    assert.equal(await errorName(sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [{ op: 'add', path: '/variables/one_more', value: 'x' }] }))), 'BadRequestException');
    assert.equal(await errorName(sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [{ op: 'replace', path: '/variables/last', value: 'x'.repeat(513) }] }))), 'BadRequestException');
    // Tidy up for the tests below.
    await sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [...hundred.map(({ path }) => ({ op: 'remove' as const, path })), { op: 'remove', path: '/variables/last' }] }));
  });

  it('ImportRestApi and PutRestApi keep the 300-resource bound', async () => {
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 301; i++) paths[`/p${i}`] = { get: { 'x-amazon-apigateway-integration': { type: 'http_proxy', httpMethod: 'GET', uri: `${backend.url}/x` } } };
    const body = Buffer.from(JSON.stringify({ openapi: '3.0.1', info: { title: 'big', version: '1' }, paths }));
    const countBefore = gateway.apis.length;
    assert.equal(await errorName(sdk.send(new ImportRestApiCommand({ body }))), 'LimitExceededException');
    assert.equal(gateway.apis.length, countBefore);
    assert.equal(await errorName(sdk.send(new PutRestApiCommand({ restApiId: 'petstore', mode: 'merge', body }))), 'LimitExceededException');
    assert.equal(await errorName(sdk.send(new PutRestApiCommand({ restApiId: 'petstore', mode: 'overwrite', body }))), 'LimitExceededException');
    const resources = await sdk.send(new GetResourcesCommand({ restApiId: 'petstore', limit: 500 }));
    assert.ok(resources.items!.length < 10);
  });

  it('a stage named __proto__ is refused, not answered 201 and silently lost', async () => {
    assert.equal(await errorName(sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: '__proto__' }))), 'BadRequestException');
    const deployment = await sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
    assert.equal(await errorName(sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: '__proto__', deploymentId: deployment.id! }))), 'BadRequestException');
    assert.equal(await errorName(sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'dev', patchOperations: [{ op: 'add', path: '/variables/__proto__', value: 'x' }] }))), 'BadRequestException');
    const data = await call(`${gateway.dataUrl}/prod/pets`, { headers: { host: 'petstore.execute-api.localhost' } });
    assert.equal(data.status, 200);
  });
});

describe('control plane under attack: definitions that grow without bound', () => {
  it('an API keeps at most 10 stages (AWS quota): one caller cannot take the store\'s 4096 stage slots', async () => {
    const backend = await startBackend();
    const gateway = await startGateway({ identities: identities(), apis: [petstore(backend)] });
    const sdk = client(gateway.adminUrl, ADMIN);
    try {
      const answers: string[] = [];
      for (let i = 0; i < 12; i++) answers.push(await errorName(sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: `s${i}`, cacheClusterEnabled: true }))));
      // petstore has prod and dev: 8 more fit.
      assert.deepEqual(answers, [...Array(8).fill('ok'), ...Array(4).fill('LimitExceededException')]);
      const deployment = await sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore' }));
      assert.equal(await errorName(sdk.send(new CreateStageCommand({ restApiId: 'petstore', stageName: 'more', deploymentId: deployment.id! }))), 'LimitExceededException');
      // Redeploying an existing stage is not a new stage.
      assert.equal(await errorName(sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 's0' }))), 'ok');
    } finally {
      sdk.destroy();
      await gateway.close();
      await backend.close();
    }
  });

  it('deployments of a large integration stop at the definitions bound instead of filling the heap', async () => {
    const backend = await startBackend();
    const gateway = await startGateway({ identities: identities(), apis: [petstore(backend)] });
    const sdk = client(gateway.adminUrl, ADMIN);
    try {
      const admin = (method: string, path: string, body?: unknown) =>
        call(`${gateway.adminUrl}${path}`, { method, headers: { 'x-api-key': ADMIN_API_KEY, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const resources = await sdk.send(new GetResourcesCommand({ restApiId: 'petstore' }));
      const pets = resources.items!.find((item) => item.path === '/pets')!;
      // 6 MiB of template (the admin body bound is 16 MiB): every deployment copies it.
      const put = await admin('PUT', `/restapis/petstore/resources/${pets.id}/methods/GET/integration`, {
        type: 'HTTP_PROXY', httpMethod: 'GET', uri: `${backend.url}/pets`, requestTemplates: { 'application/json': 'x'.repeat(6 * 2 ** 20) },
      });
      assert.equal(put.status, 201, put.text);
      const statuses: number[] = [];
      for (let i = 0; i < 20 && !statuses.includes(429); i++) statuses.push((await admin('POST', '/restapis/petstore/deployments', {})).status);
      assert.ok(statuses.includes(429), `20 deployments of 6 MiB each were all kept: ${statuses.join(',')}`);
      const bytes = Buffer.byteLength(JSON.stringify(gateway.apis));
      assert.ok(bytes <= MAX_DEFINITIONS_BYTES, `definitions hold ${bytes} bytes`);
      // Shrinking still works: a deployment is deleted, then one fits again.
      const deployments = (await admin('GET', '/restapis/petstore/deployments?limit=500')).json().item as { id: string }[];
      const unused = deployments.find(({ id }) => !Object.values(gateway.apis[0]!.stages).some((stage) => stage.deploymentId === id))!;
      assert.equal((await admin('DELETE', `/restapis/petstore/deployments/${unused.id}`)).status, 202);
      assert.equal((await admin('POST', '/restapis/petstore/deployments', {})).status, 201);
    } finally {
      sdk.destroy();
      await gateway.close();
      await backend.close();
    }
  });
});
