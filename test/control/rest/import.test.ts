/**
 * ImportRestApi, PutRestApi (merge/overwrite) and DeleteRestApi through the real SDK, with the
 * imported API reached on the data plane as `{id}.execute-api.*`; the OpenAPI importer itself;
 * `apis[].openapi` in the config file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BadRequestException,
  CreateDeploymentCommand,
  DeleteRestApiCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  ImportRestApiCommand,
  NotFoundException,
  PutRestApiCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';
import { importOpenApi, OpenApiError } from '../../../src/config/openapi.js';
import { validateConfig } from '../../../src/config/load.js';
import { call } from '../../helpers/http.js';
import { backendCallsDuring, withHarness, type Harness } from './harness.js';
import { petstoreSpec } from './openapi-fixture.js';


const onApi = (h: Harness, id: string, path: string, headers: Record<string, string> = {}) =>
  call(`${h.gateway.dataUrl}${path}`, { headers: { host: `${id}.execute-api.localhost`, ...headers } });

describe('ImportRestApi → CreateDeployment → UpdateStage → traffic', () => {
  it('the SDK-only script of the issue works end to end', () => withHarness(async (h) => {
    const encoder = new TextEncoder();
    const api = await h.sdk.send(new ImportRestApiCommand({ body: encoder.encode(petstoreSpec(h.backend.url)), failOnWarnings: false }));
    assert.match(api.id ?? '', /^[a-z0-9]{10}$/);
    assert.equal(api.name, 'Imported Pets');
    assert.equal(api.version, '2024-05-01');
    assert.ok(api.warnings?.some((warning) => /POST \/lambda: skipped/.test(warning)), String(api.warnings));
    const id = api.id!;
    assert.ok((await h.sdk.send(new GetRestApisCommand({}))).items?.some((item) => item.id === id));

    await h.sdk.send(new CreateDeploymentCommand({ restApiId: id, stageName: 'prod', cacheClusterEnabled: true, cacheClusterSize: '0.5' }));
    await h.sdk.send(new UpdateStageCommand({
      restApiId: id, stageName: 'prod',
      patchOperations: [{ op: 'replace', path: '/~1pets~1{petId}/GET/caching/ttlInSeconds', value: '120' }],
    }));

    const first = await onApi(h, id, '/prod/pets/42?type=cat');
    assert.equal(first.status, 200);
    assert.equal(first.json().path, '/animals/42?type=cat', 'uri placeholder renamed through requestParameters');
    // type is in the key, unknown parameters are not.
    assert.equal(await backendCallsDuring(h.backend, () => onApi(h, id, '/prod/pets/42?type=cat&x=1')), 0);
    assert.equal(await backendCallsDuring(h.backend, () => onApi(h, id, '/prod/pets/42?type=dog')), 1);

    const hello = await onApi(h, id, '/prod/hello');
    assert.equal(hello.status, 200);
    assert.deepEqual(hello.json(), { hello: 'world' });
    assert.equal(hello.headers['x-mock'], 'yes');
    // The configured API still answers on its own.
    assert.equal((await h.get('/prod/pets/1')).status, 200);
  }));

  it('failOnWarnings turns warnings into BadRequestException', () => withHarness(async (h) => {
    await assert.rejects(h.sdk.send(new ImportRestApiCommand({ body: new TextEncoder().encode(petstoreSpec(h.backend.url)), failOnWarnings: true })), (error) => {
      assert.ok(error instanceof BadRequestException);
      assert.match(error.message, /aws_proxy/);
      return true;
    });
    assert.equal((await h.sdk.send(new GetRestApisCommand({}))).items?.length, 1);
  }));

  it('an unreadable document is BadRequestException', () => withHarness(async (h) => {
    for (const body of ['{ not yaml: [', 'just: a map', '']) {
      await assert.rejects(h.sdk.send(new ImportRestApiCommand({ body: new TextEncoder().encode(body) })), BadRequestException);
    }
  }));

  it('an imported definition that fails validation names the path', () => withHarness(async (h) => {
    const spec = `openapi: 3.0.1\ninfo: { title: t }\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: { type: http_proxy, uri: "http://127.0.0.1:1/{nope}" }\n`;
    await assert.rejects(h.sdk.send(new ImportRestApiCommand({ body: new TextEncoder().encode(spec) })), (error) => {
      assert.ok(error instanceof BadRequestException);
      assert.match(error.message, /resources\["\/a"\]\.GET\.integration\.uri: \{nope\} is not a path parameter/);
      return true;
    });
  }));
});

describe('PutRestApi and DeleteRestApi', () => {
  it('merge adds methods, overwrite replaces them (and drops orphaned method settings)', () => withHarness(async (h) => {
    const encoder = new TextEncoder();
    const extra = `openapi: 3.0.1\ninfo: { title: Extra }\npaths:\n  /extra:\n    get:\n      x-amazon-apigateway-integration: { type: http_proxy, uri: "${h.backend.url}/extra" }\n`;
    await h.sdk.send(new UpdateStageCommand({ restApiId: 'petstore', stageName: 'prod', patchOperations: [{ op: 'replace', path: '/~1pets/GET/caching/ttlInSeconds', value: '30' }] }));

    const merged = await h.sdk.send(new PutRestApiCommand({ restApiId: 'petstore', mode: 'merge', body: encoder.encode(extra) }));
    assert.equal(merged.name, 'PetStore');
    // Deployments are snapshots (SPEC §8): the import reaches prod when deployed.
    assert.notEqual((await h.get('/prod/extra')).status, 200);
    await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal((await h.get('/prod/extra')).status, 200);
    assert.equal((await h.get('/prod/pets')).status, 200);

    const overwritten = await h.sdk.send(new PutRestApiCommand({ restApiId: 'petstore', mode: 'overwrite', body: encoder.encode(extra) }));
    assert.equal(overwritten.name, 'Extra');
    assert.ok(overwritten.warnings?.some((warning) => /pets\/GET removed/.test(warning)));
    await h.sdk.send(new CreateDeploymentCommand({ restApiId: 'petstore', stageName: 'prod' }));
    assert.equal((await h.get('/prod/extra')).status, 200);
    const gone = await h.get('/prod/pets');
    assert.ok(gone.status === 403 || gone.status === 404, `removed resource answers ${gone.status}`);
  }));

  it('PutRestApi on an unknown API is NotFoundException', () => withHarness(async (h) => {
    await assert.rejects(h.sdk.send(new PutRestApiCommand({ restApiId: 'nope', body: new TextEncoder().encode(petstoreSpec(h.backend.url)) })), NotFoundException);
  }));

  it('DeleteRestApi removes the API from the control and data planes', () => withHarness(async (h) => {
    const api = await h.sdk.send(new ImportRestApiCommand({ body: new TextEncoder().encode(petstoreSpec(h.backend.url)) }));
    await h.sdk.send(new CreateDeploymentCommand({ restApiId: api.id!, stageName: 'prod' }));
    assert.equal((await onApi(h, api.id!, '/prod/hello')).status, 200);
    await h.sdk.send(new DeleteRestApiCommand({ restApiId: api.id! }));
    await assert.rejects(h.sdk.send(new GetRestApiCommand({ restApiId: api.id! })), NotFoundException);
    await assert.rejects(h.sdk.send(new DeleteRestApiCommand({ restApiId: api.id! })), NotFoundException);
    // Its host now falls back to the first API, which has no /hello.
    assert.notEqual((await onApi(h, api.id!, '/prod/hello')).status, 200);
  }));
});

describe('importOpenApi', () => {
  it('converts integrations, parameters, namespaces and ANY', () => {
    const spec = JSON.stringify({
      openapi: '3.0.1',
      info: { title: 'J', description: 'd', version: 3 },
      components: { parameters: { Lang: { name: 'Accept-Language', in: 'header' } } },
      paths: {
        '/items/{proxy+}': {
          'x-amazon-apigateway-any-method': {
            'x-amazon-apigateway-integration': { type: 'HTTP_PROXY', httpMethod: 'ANY', uri: 'http://b/{proxy}' },
          },
        },
        '/users': {
          parameters: [{ $ref: '#/components/parameters/Lang' }],
          get: {
            parameters: [{ name: 'type', in: 'query' }],
            'x-amazon-apigateway-integration': { type: 'http', uri: 'https://b/users', cacheKeyParameters: ['method.request.querystring.type', 'bogus'] },
          },
        },
      },
    });
    const imported = importOpenApi(spec);
    assert.equal(imported.title, 'J');
    assert.equal(imported.version, '3');
    assert.deepEqual(imported.resources['/items/{proxy+}']!.ANY, {
      requestParameters: ['method.request.path.proxy'],
      cacheKeyParameters: [],
      integration: { type: 'HTTP_PROXY', uri: 'http://b/{proxy}' },
    });
    assert.deepEqual(imported.resources['/users']!.GET, {
      requestParameters: ['method.request.header.Accept-Language', 'method.request.querystring.type'],
      cacheKeyParameters: ['method.request.querystring.type'],
      integration: { type: 'HTTP_PROXY', uri: 'https://b/users', awsType: 'HTTP' },
    });
    assert.equal(imported.warnings.length, 2, imported.warnings.join('\n'));
  });

  it('refuses documents that are not OpenAPI', () => {
    assert.throws(() => importOpenApi('[1, 2]'), OpenApiError);
    assert.throws(() => importOpenApi('openapi: 3.0.0\ninfo: {}\n'), /no paths/);
    assert.throws(() => importOpenApi('a: [\n'), /not valid YAML or JSON/);
  });

  it('apis[].openapi in a config file imports resources under inline ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-openapi-'));
    writeFileSync(join(dir, 'spec.yaml'), petstoreSpec('http://127.0.0.1:3000'));
    const loaded = validateConfig({
      apis: [{
        id: 'pets', openapi: './spec.yaml', stages: { prod: {} },
        resources: { '/hello': { GET: { integration: { type: 'MOCK', body: 'inline' } } } },
      }],
    }, { source: '<test>', baseDir: dir });
    const resources = loaded.config.apis[0]!.resources;
    assert.deepEqual(Object.keys(resources).sort(), ['/hello', '/pets/{petId}']);
    const hello = resources['/hello']!.GET!.integration!;
    assert.equal(hello.type === 'MOCK' && hello.body, 'inline');
    assert.equal(resources['/pets/{petId}']!.GET!.cacheNamespace, 'pets');
    writeFileSync(join(dir, 'bad.yaml'), 'nope: 1\n');
    assert.throws(
      () => validateConfig({ apis: [{ id: 'pets', openapi: './bad.yaml', stages: {} }] }, { source: '<test>', baseDir: dir }),
      (error: { lines(): string[] }) => error.lines().some((line) => /^apis\[0\]\.openapi: .*not an OpenAPI document/.test(line)),
    );
  });
});
