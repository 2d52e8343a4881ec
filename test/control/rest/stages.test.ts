/**
 * Stages through the real AWS SDK: GetStages, GetStage, UpdateStage (every patch path), and the
 * effect of each change on live traffic through a counting backend.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestException,
  FlushStageCacheCommand,
  GetStageCommand,
  GetStagesCommand,
  NotFoundException,
  UpdateStageCommand,
  type PatchOperation,
} from '@aws-sdk/client-api-gateway';
import { backendCallsDuring, withHarness, type Harness } from './harness.js';


const patch = (h: Harness, stageName: string, ...patchOperations: PatchOperation[]) =>
  h.sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName, patchOperations }));
const replace = (path: string, value: string): PatchOperation => ({ op: 'replace', path, value });
const twice = (h: Harness, path: string) => backendCallsDuring(h.backend, async () => {
  assert.equal((await h.get(path)).status, 200);
  assert.equal((await h.get(path)).status, 200);
});

describe('GetStages / GetStage', () => {
  it('lists both stages with AWS shapes', () => withHarness(async (h) => {
    const out = await h.sdk.send(new GetStagesCommand({ restApiId: 'petstore' }));
    const byName = new Map(out.item?.map((stage) => [stage.stageName, stage]));
    assert.deepEqual([...byName.keys()].sort(), ['dev', 'prod']);
    const prod = byName.get('prod')!;
    assert.equal(prod.cacheClusterEnabled, true);
    assert.equal(prod.cacheClusterSize, '0.5');
    assert.equal(prod.cacheClusterStatus, 'AVAILABLE');
    assert.equal(byName.get('dev')!.cacheClusterStatus, 'NOT_AVAILABLE');
    assert.ok(prod.createdDate instanceof Date && prod.lastUpdatedDate instanceof Date);
    assert.deepEqual(prod.variables, { backend: h.backend.address });
  }));

  it('GetStage fills AWS method-setting defaults', () => withHarness(async (h) => {
    const prod = await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.deepEqual(prod.methodSettings, {
      '*/*': {
        metricsEnabled: false,
        loggingLevel: 'OFF',
        dataTraceEnabled: false,
        cachingEnabled: true,
        cacheTtlInSeconds: 300,
        cacheDataEncrypted: false,
        requireAuthorizationForCacheControl: true,
        unauthorizedCacheControlHeaderStrategy: 'SUCCEED_WITH_RESPONSE_HEADER',
      },
    });
  }));

  it('unknown API and stage are NotFoundException', () => withHarness(async (h) => {
    await assert.rejects(h.sdk.send(new GetStageCommand({ restApiId: 'nope', stageName: 'prod' })), (error) => {
      assert.ok(error instanceof NotFoundException);
      assert.match(error.message, /Invalid API identifier specified nope/);
      return true;
    });
    await assert.rejects(h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'nope' })), NotFoundException);
    await assert.rejects(h.sdk.send(new GetStagesCommand({ restApiId: 'nope' })), NotFoundException);
    await assert.rejects(patch(h, 'nope', replace('/cacheClusterEnabled', 'true')), NotFoundException);
  }));
});

describe('UpdateStage: effects on live traffic', () => {
  it('the stage cache serves a repeat GET (baseline)', () => withHarness(async (h) => {
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    assert.equal(await twice(h, '/dev/pets/1'), 2);
  }));

  it('/*/*/caching/ttlInSeconds 0 stops caching; back to 60 caches again', () => withHarness(async (h) => {
    const out = await patch(h, 'prod', replace('/*/*/caching/ttlInSeconds', '0'));
    assert.equal(out.methodSettings?.['*/*']?.cacheTtlInSeconds, 0);
    assert.equal(await twice(h, '/prod/pets/1'), 2);
    await patch(h, 'prod', replace('/*/*/caching/ttlInSeconds', '60'));
    assert.equal((await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }))).methodSettings?.['*/*']?.cacheTtlInSeconds, 60);
    assert.equal(await twice(h, '/prod/pets/2'), 1);
  }));

  it('/cacheClusterEnabled turns the stage cache off and on', () => withHarness(async (h) => {
    const off = await patch(h, 'prod', replace('/cacheClusterEnabled', 'false'));
    assert.equal(off.cacheClusterEnabled, false);
    assert.equal(off.cacheClusterStatus, 'NOT_AVAILABLE');
    assert.equal(await twice(h, '/prod/pets/1'), 2);
    const on = await patch(h, 'dev', replace('/cacheClusterEnabled', 'true'));
    assert.equal(on.cacheClusterStatus, 'AVAILABLE');
    assert.equal(await twice(h, '/dev/pets/1'), 1);
  }));

  it('per-method /~1pets~1{petId}/GET/caching/enabled false leaves /pets cached', () => withHarness(async (h) => {
    const out = await patch(h, 'prod', replace('/~1pets~1{petId}/GET/caching/enabled', 'false'));
    assert.equal(out.methodSettings?.['pets/{petId}/GET']?.cachingEnabled, false);
    // Field by field: the rest comes from */*.
    assert.equal(out.methodSettings?.['pets/{petId}/GET']?.cacheTtlInSeconds, 300);
    assert.equal(await twice(h, '/prod/pets/1'), 2);
    assert.equal(await twice(h, '/prod/pets'), 1);
    // remove drops the override.
    const removed = await patch(h, 'prod', { op: 'remove', path: '/~1pets~1{petId}/GET' });
    assert.equal(removed.methodSettings?.['pets/{petId}/GET'], undefined);
    assert.equal(await twice(h, '/prod/pets/3'), 1);
  }));

  it('a per-method TTL beats */*', () => withHarness(async (h) => {
    await patch(h, 'prod', replace('/~1pets~1{petId}/GET/caching/ttlInSeconds', '0'));
    assert.equal(await twice(h, '/prod/pets/1'), 2);
    assert.equal(await twice(h, '/prod/pets'), 1);
  }));

  it('/cacheClusterSize resizes (a new, empty cache)', () => withHarness(async (h) => {
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    const out = await patch(h, 'prod', replace('/cacheClusterSize', '1.6'));
    assert.equal(out.cacheClusterSize, '1.6');
    assert.equal(out.cacheClusterStatus, 'AVAILABLE');
  }));

  it('/variables/NAME add, replace and remove follow into integration URIs', () => withHarness(async (h) => {
    const { startBackend } = await import('../../helpers/backend.js');
    const other = await startBackend();
    try {
      const out = await patch(h, 'dev', replace('/variables/backend', other.address), { op: 'add', path: '/variables/extra', value: 'x' });
      assert.deepEqual(out.variables, { backend: other.address, extra: 'x' });
      assert.equal((await h.get('/dev/where')).status, 200);
      assert.equal(other.calls, 1);
      const removed = await patch(h, 'dev', { op: 'remove', path: '/variables/extra' });
      assert.deepEqual(removed.variables, { backend: other.address });
    } finally {
      await other.close();
    }
  }));

  it('/description, /*/*/metrics/enabled and the cache-control settings are stored', () => withHarness(async (h) => {
    const out = await patch(
      h, 'prod',
      replace('/description', 'production'),
      replace('/*/*/metrics/enabled', 'true'),
      replace('/*/*/caching/requireAuthorizationForCacheControl', 'false'),
      replace('/*/*/caching/unauthorizedCacheControlHeaderStrategy', 'FAIL_WITH_403'),
    );
    assert.equal(out.description, 'production');
    assert.equal(out.methodSettings?.['*/*']?.metricsEnabled, true);
    assert.equal(out.methodSettings?.['*/*']?.requireAuthorizationForCacheControl, false);
    assert.equal(out.methodSettings?.['*/*']?.unauthorizedCacheControlHeaderStrategy, 'FAIL_WITH_403');
  }));

  it('logging and throttling settings (as Terraform sends them) are stored and reported, and traffic still flows', () => withHarness(async (h) => {
    const out = await patch(
      h, 'prod',
      replace('/*/*/logging/loglevel', 'INFO'),
      replace('/*/*/logging/dataTrace', 'true'),
      replace('/*/*/throttling/burstLimit', '500'),
      replace('/*/*/throttling/rateLimit', '1000.5'),
    );
    assert.equal(out.methodSettings?.['*/*']?.loggingLevel, 'INFO');
    assert.equal(out.methodSettings?.['*/*']?.dataTraceEnabled, true);
    assert.equal(out.methodSettings?.['*/*']?.throttlingBurstLimit, 500);
    assert.equal(out.methodSettings?.['*/*']?.throttlingRateLimit, 1000.5);
    const again = await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal(again.methodSettings?.['*/*']?.throttlingBurstLimit, 500);
    assert.equal((await h.get('/prod/pets')).status, 200);
  }));

  it('requireAuthorizationForCacheControl false: anyone may refresh with max-age=0', () => withHarness(async (h) => {
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    await patch(h, 'prod', replace('/*/*/caching/requireAuthorizationForCacheControl', 'false'));
    const calls = await backendCallsDuring(h.backend, () => h.get('/prod/pets/1', { 'cache-control': 'max-age=0' }));
    assert.equal(calls, 1);
  }));

  it('unauthorizedCacheControlHeaderStrategy FAIL_WITH_403 answers anonymous max-age=0 with 403', () => withHarness(async (h) => {
    await patch(h, 'prod', replace('/*/*/caching/unauthorizedCacheControlHeaderStrategy', 'FAIL_WITH_403'));
    assert.equal((await h.get('/prod/pets/1', { 'cache-control': 'max-age=0' })).status, 403);
  }));

  it('/*/*/caching/dataEncrypted true needs store.encryptionKey (BadRequestException)', () => withHarness(async (h) => {
    await assert.rejects(patch(h, 'prod', replace('/*/*/caching/dataEncrypted', 'true')), (error) => {
      assert.ok(error instanceof BadRequestException);
      assert.match(error.message, /encryptionKey/);
      return true;
    });
  }));

  it('changing one stage keeps the other stage\'s entries', () => withHarness(async (h) => {
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    await patch(h, 'dev', replace('/cacheClusterEnabled', 'true'), replace('/*/*/caching/ttlInSeconds', '30'));
    assert.equal(await backendCallsDuring(h.backend, () => h.get('/prod/pets/1')), 0);
  }));

  it('FlushStageCache empties the stage cache at once', () => withHarness(async (h) => {
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    await h.sdk.send(new FlushStageCacheCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal(await twice(h, '/prod/pets/1'), 1);
    await assert.rejects(h.sdk.send(new FlushStageCacheCommand({ restApiId: 'petstore', stageName: 'nope' })), NotFoundException);
  }));
});

describe('UpdateStage: invalid paths and values are BadRequestException, nothing applied', () => {
  const cases: [string, PatchOperation, RegExp][] = [
    ['unknown path', replace('/foo', 'x'), /Invalid patch path \/foo/],
    ['unknown setting', replace('/*/*/caching/colour', 'x'), /Invalid patch path \/\*\/\*\/caching\/colour/],
    ['unsupported op for the path', { op: 'remove', path: '/cacheClusterEnabled' }, /Invalid patch path \/cacheClusterEnabled specified for op 'remove'/],
    ['unknown op', { op: 'frobnicate' as PatchOperation['op'], path: '/cacheClusterEnabled', value: 'true' }, /Invalid patch operation specified: frobnicate/],
    ['TTL not a number', replace('/*/*/caching/ttlInSeconds', 'abc'), /ttlInSeconds.*0\.\.3600/],
    ['TTL too large', replace('/*/*/caching/ttlInSeconds', '4000'), /0\.\.3600, got "4000"/],
    ['boolean not true/false', replace('/cacheClusterEnabled', 'yes'), /expected true or false, got "yes"/],
    ['cache size not an AWS size', replace('/cacheClusterSize', '3'), /Invalid cache cluster size specified: 3/],
    ['strategy unknown', replace('/*/*/caching/unauthorizedCacheControlHeaderStrategy', 'MAYBE'), /FAIL_WITH_403/],
    ['method setting of an unknown resource', replace('/~1nope/GET/caching/enabled', 'true'), /no method GET on resource \/nope/],
    ['method setting with a bad method', replace('/~1pets/FETCH/caching/enabled', 'true'), /Invalid method setting path/],
    ['missing value', { op: 'replace', path: '/cacheClusterEnabled' }, /a value is required/],
    ['unknown deployment', replace('/deploymentId', 'zzz'), /Invalid deployment identifier specified: zzz/],
    ['log level unknown', replace('/*/*/logging/loglevel', 'DEBUG'), /expected OFF, ERROR or INFO, got "DEBUG"/],
    ['burst limit not an integer', replace('/*/*/throttling/burstLimit', 'lots'), /expected an integer -1 or more, got "lots"/],
  ];
  for (const [name, operation, message] of cases) {
    it(name, () => withHarness(async (h) => {
      await assert.rejects(patch(h, 'prod', replace('/*/*/caching/ttlInSeconds', '10'), operation), (error) => {
        assert.ok(error instanceof BadRequestException, `${(error as Error).name}: ${(error as Error).message}`);
        assert.match(error.message, message);
        assert.equal(error.$metadata.httpStatusCode, 400);
        return true;
      });
      const prod = await h.sdk.send(new GetStageCommand({ restApiId: 'petstore', stageName: 'prod' }));
      assert.equal(prod.methodSettings?.['*/*']?.cacheTtlInSeconds, 300, 'the earlier operation of the same request is not applied');
    }));
  }
});
