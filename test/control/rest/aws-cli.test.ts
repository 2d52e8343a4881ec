/**
 * The AWS CLI (botocore), replaying the calls Terraform's aws provider makes for
 * aws_api_gateway_rest_api, _resource, _method, _integration, _deployment, _stage and
 * _method_settings (internal/service/apigateway: create, then read back), then traffic through the
 * data plane, cached. Skipped loudly when `aws` is not installed; a failure under CI=true.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../../helpers/http.js';
import { ADMIN, REGION, startHarness, type Harness } from './harness.js';

const AWS = '/usr/bin/aws';

function awsVersion(): string | undefined {
  try {
    return execFileSync(AWS, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_CONFIG_FILE: '/dev/null' } }).trim();
  } catch {
    return undefined;
  }
}

const version = awsVersion();
if (!version) {
  if (process.env.CI === 'true') throw new Error(`${AWS} is missing: the CLI test must run in CI (install awscli)`);
  console.warn(`\n*** SKIPPING the AWS CLI test: ${AWS} is not installed ***\n`);
}

describe('AWS CLI: the call sequence of Terraform\'s aws provider', { skip: version ? false : `${AWS} is not installed` }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  /** `aws apigateway …` against the admin listener with the admin identity; parsed JSON output. */
  function aws(...args: string[]): Promise<any> {
    // CLI v2 pages output; v1 has no pager (and no --no-cli-pager option).
    const pager = version!.startsWith('aws-cli/2') ? ['--no-cli-pager'] : [];
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: tmpdir(),
      AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      AWS_DEFAULT_REGION: REGION,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_MAX_ATTEMPTS: '1',
    };
    return new Promise((resolve, reject) => {
      execFile(AWS, ['apigateway', ...args, '--endpoint-url', h.gateway.adminUrl, '--output', 'json', ...pager], { env, timeout: 60_000 }, (error, stdout, stderr) => {
        if (error) return reject(new Error(`aws apigateway ${args.join(' ')} failed: ${stderr || error.message}`));
        resolve(stdout.trim() ? JSON.parse(stdout) : {});
      });
    });
  }

  it('builds, deploys, tunes and serves a cached API exactly as Terraform would', async () => {
    // aws_api_gateway_rest_api: CreateRestApi, then GetRestApi.
    const api = await aws('create-rest-api', '--name', 'tf-pets', '--description', 'built by the CLI');
    const restApiId: string = api.id;
    assert.equal((await aws('get-rest-api', '--rest-api-id', restApiId)).name, 'tf-pets');
    // The provider finds the root resource by listing resources (older botocore models lack rootResourceId).
    const root = (await aws('get-resources', '--rest-api-id', restApiId)).items.find((resource: { path: string }) => resource.path === '/');
    // aws_api_gateway_resource: CreateResource, then GetResource.
    const pets = await aws('create-resource', '--rest-api-id', restApiId, '--parent-id', root.id, '--path-part', 'pets');
    const pet = await aws('create-resource', '--rest-api-id', restApiId, '--parent-id', pets.id, '--path-part', '{petId}');
    assert.equal((await aws('get-resource', '--rest-api-id', restApiId, '--resource-id', pet.id)).path, '/pets/{petId}');
    // aws_api_gateway_method: PutMethod, then GetMethod.
    await aws('put-method', '--rest-api-id', restApiId, '--resource-id', pet.id, '--http-method', 'GET', '--authorization-type', 'NONE',
      '--request-parameters', 'method.request.path.petId=true,method.request.querystring.type=false');
    assert.equal((await aws('get-method', '--rest-api-id', restApiId, '--resource-id', pet.id, '--http-method', 'GET')).authorizationType, 'NONE');
    // aws_api_gateway_integration: PutIntegration, then GetIntegration.
    await aws('put-integration', '--rest-api-id', restApiId, '--resource-id', pet.id, '--http-method', 'GET', '--type', 'HTTP_PROXY',
      '--integration-http-method', 'GET', '--uri', `${h.backend.url}/pets/{petId}`,
      '--request-parameters', 'integration.request.path.petId=method.request.path.petId',
      '--cache-key-parameters', 'method.request.path.petId', 'method.request.querystring.type', '--cache-namespace', 'pets', '--timeout-in-millis', '29000');
    const integration = await aws('get-integration', '--rest-api-id', restApiId, '--resource-id', pet.id, '--http-method', 'GET');
    assert.deepEqual(integration.cacheKeyParameters, ['method.request.path.petId', 'method.request.querystring.type']);
    assert.equal(integration.cacheNamespace, 'pets');
    // aws_api_gateway_deployment: CreateDeployment (no stage), then GetDeployment.
    const deployment = await aws('create-deployment', '--rest-api-id', restApiId, '--description', 'v1');
    assert.equal((await aws('get-deployment', '--rest-api-id', restApiId, '--deployment-id', deployment.id)).description, 'v1');
    // aws_api_gateway_stage: CreateStage, then GetStage.
    await aws('create-stage', '--rest-api-id', restApiId, '--stage-name', 'prod', '--deployment-id', deployment.id,
      '--cache-cluster-enabled', '--cache-cluster-size', '0.5', '--tracing-enabled', '--tags', 'team=pets', '--variables', 'color=blue');
    const stage = await aws('get-stage', '--rest-api-id', restApiId, '--stage-name', 'prod');
    assert.equal(stage.tracingEnabled, true);
    assert.deepEqual(stage.tags, { team: 'pets' });
    assert.equal(stage.cacheClusterStatus, 'AVAILABLE');
    // aws_api_gateway_method_settings: UpdateStage with the method path unescaped, as the provider sends it.
    const settings = [
      ['/*/*/caching/enabled', 'true'],
      ['/pets/{petId}/GET/caching/enabled', 'true'],
      ['/pets/{petId}/GET/caching/ttlInSeconds', '120'],
      ['/pets/{petId}/GET/metrics/enabled', 'true'],
      ['/pets/{petId}/GET/throttling/rateLimit', '100'],
    ].map(([path, value]) => ({ op: 'replace', path, value }));
    await aws('update-stage', '--rest-api-id', restApiId, '--stage-name', 'prod', '--patch-operations', JSON.stringify(settings));
    const tuned = await aws('get-stage', '--rest-api-id', restApiId, '--stage-name', 'prod');
    assert.equal(tuned.methodSettings['pets/{petId}/GET'].cacheTtlInSeconds, 120);

    // Traffic through the data plane: the second request is a hit.
    const get = () => call(`${h.gateway.dataUrl}/prod/pets/5?type=dog`, { headers: { host: `${restApiId}.execute-api.localhost` } });
    const first = await get();
    assert.equal(first.status, 200, first.text);
    const before = h.backend.calls;
    const second = await get();
    assert.match(String(second.headers['cache-status']), /hit/);
    assert.equal(h.backend.calls, before);

    // GetExport writes the file the CLI is given.
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-cli-'));
    await aws('get-export', '--rest-api-id', restApiId, '--stage-name', 'prod', '--export-type', 'oas30', '--accepts', 'application/yaml', join(dir, 'export.yaml'));
    assert.match(readFileSync(join(dir, 'export.yaml'), 'utf8'), /x-amazon-apigateway-integration/);
    // The export re-imports through the CLI (import-rest-api, fileb://) to an API with the same resources.
    const reimported = await aws('import-rest-api', '--body', `fileb://${join(dir, 'export.yaml')}`);
    const paths = (await aws('get-resources', '--rest-api-id', reimported.id)).items.map((item: { path: string }) => item.path).sort();
    assert.deepEqual(paths, (await aws('get-resources', '--rest-api-id', restApiId)).items.map((item: { path: string }) => item.path).sort());
    await aws('delete-rest-api', '--rest-api-id', reimported.id);

    // Throttled with Terraform's method path: a burst of 1 and a slow refill answer the second request 429.
    const throttle = [['/pets/{petId}/GET/throttling/burstLimit', '1'], ['/pets/{petId}/GET/throttling/rateLimit', '0.01']]
      .map(([path, value]) => ({ op: 'replace', path, value }));
    await aws('update-stage', '--rest-api-id', restApiId, '--stage-name', 'prod', '--patch-operations', JSON.stringify(throttle));
    const statuses = [(await get()).status, (await get()).status, (await get()).status];
    assert.ok(statuses.includes(429), `statuses ${statuses.join(', ')} after a burst limit of 1`);
    // terraform destroy: DeleteStage, DeleteDeployment, DeleteRestApi.
    await aws('delete-stage', '--rest-api-id', restApiId, '--stage-name', 'prod');
    await aws('delete-deployment', '--rest-api-id', restApiId, '--deployment-id', deployment.id);
    await aws('delete-rest-api', '--rest-api-id', restApiId);
  });
});
