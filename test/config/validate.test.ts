import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfigText, validateConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'cachegate-config-'));
writeFileSync(join(dir, 'fn.js'), 'export const handler = async () => ({ statusCode: 200, body: "" });\n');

/** A valid config touching every section; each case below breaks one field of a fresh copy. */
function base(): any {
  return {
    gateway: { listen: '127.0.0.1:8080', admin: '127.0.0.1:9090', region: 'us-east-1', accountId: '000000000000' },
    store: { type: 'memory' },
    identities: [{ name: 'admin', accessKeyId: 'AKIDADMIN', secretAccessKey: 's3cret', apiKey: 'admin-api-key', policy: [{ effect: 'Allow', action: ['apigateway:*'], resource: '*' }] }],
    apps: [{ id: '1992323', appKey: 'demo-key', appSecret: 'x' }],
    cachePlugins: { 'products-cache': { varyByApp: false, varyByParameters: ['userId'], varyByHeaders: ['Accept'], clientCacheControl: { mode: 'app', apps: ['1992323'] }, cacheableHeaders: ['X-Customer-Token'], duration: 3600 } },
    apis: [
      {
        id: 'petstore',
        name: 'PetStore',
        host: 'petstore.localhost',
        resources: {
          '/pets/{petId}': {
            GET: {
              requestParameters: ['method.request.path.petId', 'method.request.querystring.type'],
              cacheKeyParameters: ['method.request.path.petId', 'method.request.querystring.type'],
              integration: { type: 'HTTP_PROXY', uri: 'http://127.0.0.1:3000/pets/{petId}', timeoutMs: 29000 },
            },
          },
          '/products': { GET: { cachePlugin: 'products-cache', integration: { type: 'HTTP_PROXY', uri: 'http://${stageVariables.backend}/products' } } },
          '/hello': { GET: { integration: { type: 'MOCK', statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' } } },
          '/fn': { ANY: { integration: { type: 'FUNCTION', handler: './fn.js#handler' } } },
        },
        stages: {
          prod: {
            variables: { backend: '127.0.0.1:3000' },
            cacheClusterEnabled: true,
            cacheClusterSize: '0.5',
            methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 }, 'pets/{petId}/GET': { cacheTtlInSeconds: 60 } },
          },
          dev: { cacheClusterEnabled: false },
        },
      },
    ],
  };
}

function errorsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    validateConfig(raw, { source: 'test.yaml', baseDir: dir, env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.lines();
  }
  return [];
}

describe('config validation', () => {
  it('accepts the full example and applies defaults', () => {
    const { config } = validateConfig(base(), { source: 't', baseDir: dir });
    assert.deepEqual(config.gateway.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.apis[0]!.stages.dev!.cacheClusterSize, '0.5');
    assert.equal(config.apis[0]!.resources['/fn']!.ANY!.integration!.type, 'FUNCTION');
    assert.ok(Object.isFrozen(config.apis[0]!.stages), 'the config is frozen');
  });

  const cases: [string, (c: any) => void, string][] = [
    ['TTL above 3600', (c) => (c.apis[0].stages.prod.methodSettings['*/*'].cacheTtlInSeconds = 4000),
      'apis[0].stages.prod.methodSettings["*/*"].cacheTtlInSeconds: must be 0..3600, got 4000'],
    ['TTL not a number', (c) => (c.apis[0].stages.prod.methodSettings['*/*'].cacheTtlInSeconds = 'long'),
      'apis[0].stages.prod.methodSettings["*/*"].cacheTtlInSeconds: must be 0..3600, got "long"'],
    ['cache size not an AWS size', (c) => (c.apis[0].stages.prod.cacheClusterSize = '3'),
      'apis[0].stages.prod.cacheClusterSize: must be one of 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237 (GB), got "3"'],
    ['cacheClusterEnabled not boolean', (c) => (c.apis[0].stages.prod.cacheClusterEnabled = 'yes'),
      'apis[0].stages.prod.cacheClusterEnabled: must be true or false, got "yes"'],
    ['capacity too small', (c) => (c.apis[0].stages.prod.cacheCapacityBytes = 10), 'apis[0].stages.prod.cacheCapacityBytes: must be an integer >= 1024, got 10'],
    ['unknown strategy', (c) => (c.apis[0].stages.prod.methodSettings['*/*'].unauthorizedCacheControlHeaderStrategy = 'IGNORE'),
      'unauthorizedCacheControlHeaderStrategy: must be one of FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER, SUCCEED_WITHOUT_RESPONSE_HEADER, got "IGNORE"'],
    ['misspelt field with a hint', (c) => (c.apis[0].stages.prod.methodSettings['*/*'].cacheTtlInSecond = 5),
      'apis[0].stages.prod.methodSettings["*/*"].cacheTtlInSecond: unknown field (did you mean "cacheTtlInSeconds"?)'],
    ['method setting for a missing method', (c) => (c.apis[0].stages.prod.methodSettings['pets/{petId}/POST'] = {}),
      'apis[0].stages.prod.methodSettings["pets/{petId}/POST"]: no method POST on resource "/pets/{petId}"'],
    ['malformed method setting key', (c) => (c.apis[0].stages.prod.methodSettings['pets'] = {}), 'methodSettings.pets: key must be "*/*"'],
    ['bad listen address', (c) => (c.gateway.listen = 'localhost:99999'), 'gateway.listen: must be host:port with a port 0..65535, got "localhost:99999"'],
    ['bad region', (c) => (c.gateway.region = 'Mars'), 'gateway.region: must be an AWS-style region such as us-east-1, got "Mars"'],
    ['bad account id', (c) => (c.gateway.accountId = '123'), 'gateway.accountId: must be 12 digits, got "123"'],
    ['unknown store type', (c) => (c.store.type = 'memcached'), 'store.type: must be memory, redis or redis-cluster, got "memcached"'],
    ['redis without url', (c) => (c.store = { type: 'redis' }), 'store.url: is required when type is redis'],
    ['cluster without nodes', (c) => (c.store = { type: 'redis-cluster' }), 'store.nodes: is required when type is redis-cluster'],
    ['bad redis url', (c) => (c.store = { type: 'redis', url: 'http://x' }), 'store.url: must be a redis:// or rediss:// URL, got "http://x"'],
    ['encryption without a key', (c) => (c.apis[0].stages.prod.methodSettings['*/*'].cacheDataEncrypted = true),
      'store.encryptionKey: is required because apis[0].stages.prod.methodSettings["*/*"].cacheDataEncrypted is true'],
    ['encryption key of the wrong length', (c) => (c.store.encryptionKey = 'abcd'), 'store.encryptionKey: must be 32 bytes'],
    ['identity without secret', (c) => delete c.identities[0].secretAccessKey, 'identities[0].secretAccessKey: is required with accessKeyId'],
    ['identity without any credential', (c) => (c.identities[0] = { name: 'x', policy: [] }), 'identities[0]: needs accessKeyId/secretAccessKey or apiKey'],
    ['policy effect', (c) => (c.identities[0].policy[0].effect = 'Maybe'), 'identities[0].policy[0].effect: must be Allow or Deny, got "Maybe"'],
    ['duplicate api key', (c) => c.identities.push({ name: 'b', apiKey: 'admin-api-key' }), 'identities[1].apiKey: duplicate API key'],
    ['duplicate app id', (c) => c.apps.push({ id: '1992323' }), 'apps[1].id: duplicate app id "1992323"'],
    ['plugin duration over 48 h', (c) => (c.cachePlugins['products-cache'].duration = 200000), 'cachePlugins["products-cache"].duration: must be 1..172800, got 200000'],
    ['plugin client mode', (c) => (c.cachePlugins['products-cache'].clientCacheControl.mode = 'some'), 'cachePlugins["products-cache"].clientCacheControl.mode: must be off, all or app, got "some"'],
    ['plugin unknown app', (c) => (c.cachePlugins['products-cache'].clientCacheControl.apps = ['42']), 'cachePlugins["products-cache"].clientCacheControl.apps[0]: unknown app id "42" (not in apps)'],
    ['plugin unknown field', (c) => (c.cachePlugins['products-cache'].varyByHeader = []), 'cachePlugins["products-cache"].varyByHeader: unknown field (did you mean "varyByHeaders"?)'],
    ['unknown cache plugin', (c) => (c.apis[0].resources['/products'].GET.cachePlugin = 'nope'), 'apis[0].resources["/products"].GET.cachePlugin: unknown cache plug-in "nope"'],
    ['no apis', (c) => (c.apis = []), 'apis: must list at least one API'],
    ['bad api id', (c) => (c.apis[0].id = 'pet store'), 'apis[0].id: must be 1..64 letters, digits, - or _, got "pet store"'],
    ['duplicate api id', (c) => c.apis.push({ ...c.apis[0], host: undefined }), 'apis[1].id: duplicate API id "petstore"'],
    ['bad resource path', (c) => (c.apis[0].resources['pets'] = {}), 'apis[0].resources.pets: resource path must look like /pets/{petId}'],
    ['greedy not last', (c) => (c.apis[0].resources['/{proxy+}/x'] = {}), 'resource path must look like /pets/{petId} (a greedy {name+} only last)'],
    ['unknown http method', (c) => (c.apis[0].resources['/hello'].FETCH = {}), 'method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, ANY'],
    ['integration type', (c) => (c.apis[0].resources['/hello'].GET.integration = { type: 'AWS' }), 'apis[0].resources["/hello"].GET.integration.type: must have type HTTP_PROXY, MOCK or FUNCTION, got "AWS"'],
    ['missing integration', (c) => delete c.apis[0].resources['/hello'].GET.integration, 'apis[0].resources["/hello"].GET.integration: is required'],
    ['proxy uri scheme', (c) => (c.apis[0].resources['/pets/{petId}'].GET.integration.uri = 'ftp://x'), 'integration.uri: must be an http:// or https:// URL, got "ftp://x"'],
    ['proxy uri unknown placeholder', (c) => (c.apis[0].resources['/pets/{petId}'].GET.integration.uri = 'http://x/{id}'), 'integration.uri: {id} is not a path parameter of /pets/{petId}'],
    ['proxy timeout', (c) => (c.apis[0].resources['/pets/{petId}'].GET.integration.timeoutMs = 0), 'integration.timeoutMs: must be an integer 1..300000, got 0'],
    ['mock status', (c) => (c.apis[0].resources['/hello'].GET.integration.statusCode = 99), 'integration.statusCode: must be an integer 100..599, got 99'],
    ['function handler missing file', (c) => (c.apis[0].resources['/fn'].ANY.integration.handler = './nope.js#handler'), 'integration.handler: file not found:'],
    ['function handler shape', (c) => (c.apis[0].resources['/fn'].ANY.integration.handler = './fn.js#1bad'), 'integration.handler: must be ./module.js#exportName'],
    ['cache key parameter syntax', (c) => (c.apis[0].resources['/pets/{petId}'].GET.cacheKeyParameters = ['querystring.type']),
      'cacheKeyParameters[0]: must be method.request.{path|querystring|header}.NAME or method.request.body, got "querystring.type"'],
    ['cache key path parameter not in path', (c) => (c.apis[0].resources['/pets/{petId}'].GET.cacheKeyParameters = ['method.request.path.id']),
      'cacheKeyParameters[0]: path parameter "id" is not in /pets/{petId}'],
    ['body key on GET', (c) => (c.apis[0].resources['/pets/{petId}'].GET.cacheKeyParameters = ['method.request.body']), 'method.request.body cannot be a key part of GET'],
    ['malformed body JSON path', (c) => (c.apis[0].resources['/fn'].ANY.cacheKeyParameters = ['method.request.body.a..b']), 'cacheKeyParameters[0]: malformed JSON path "a..b"'],
    ['stage variables not strings', (c) => (c.apis[0].stages.prod.variables = { backend: 3 }), 'apis[0].stages.prod.variables.backend: must be a string, got 3'],
    ['bad stage name', (c) => (c.apis[0].stages['pro d'] = {}), 'stage name must be letters, digits, - or _'],
    ['unknown top-level field', (c) => (c.gatway = {}), 'gatway: unknown field (did you mean "gateway"?)'],
    ['a field of another section', (c) => (c.gateway.minVersion = 'TLSv1.3'),
      'gateway.minVersion: unknown field here ("minVersion" belongs in gateway.tls (or dataTls, adminTls))'],
  ];

  for (const [name, breakIt, expected] of cases) {
    it(`reports ${name}`, () => {
      const config = base();
      breakIt(config);
      const errors = errorsOf(config);
      assert.ok(errors.some((line) => line.includes(expected)), `expected a line containing\n  ${expected}\ngot\n  ${errors.join('\n  ') || '(valid)'}`);
    });
  }

  it('reports every error at once, not only the first', () => {
    const config = base();
    config.apis[0].stages.prod.methodSettings['*/*'].cacheTtlInSeconds = 4000;
    config.gateway.region = 'Mars';
    config.apps.push({ id: '1992323' });
    const errors = errorsOf(config);
    assert.ok(errors.length >= 2, errors.join('\n'));
    assert.ok(errors.some((l) => l.startsWith('gateway.region')));
    assert.ok(errors.some((l) => l.includes('cacheTtlInSeconds')));
  });

  it('substitutes ${VAR} from the environment, leaves ${stageVariables.x}, and names a missing variable', () => {
    const config = base();
    config.identities[0].secretAccessKey = '${ADMIN_SECRET}';
    config.store.encryptionKey = '${KEY:-' + 'ab'.repeat(32) + '}';
    const loaded = validateConfig(config, { source: 't', baseDir: dir, env: { ADMIN_SECRET: 'from-env' } });
    assert.equal(loaded.config.identities[0]!.secretAccessKey, 'from-env');
    assert.equal(loaded.config.store.encryptionKey, 'ab'.repeat(32));
    assert.equal((loaded.config.apis[0]!.resources['/products']!.GET!.integration as { uri: string }).uri, 'http://${stageVariables.backend}/products');
    assert.deepEqual(errorsOf(config, {}).filter((l) => l.includes('ADMIN_SECRET')), [
      'identities[0].secretAccessKey: environment variable ADMIN_SECRET is not set (used as ${ADMIN_SECRET})',
    ]);
  });

  it('reads YAML and JSON files, and reports syntax errors with a position', () => {
    const yamlFile = join(dir, 'ok.yaml');
    writeFileSync(yamlFile, 'apis:\n  - id: a\n    resources:\n      /x:\n        GET:\n          integration: { type: MOCK }\n    stages: { prod: {} }\n');
    assert.equal(loadConfigFile(yamlFile).config.apis[0]!.id, 'a');
    const jsonFile = join(dir, 'ok.json');
    writeFileSync(jsonFile, JSON.stringify(base()));
    assert.equal(loadConfigFile(jsonFile).config.apis[0]!.id, 'petstore');
    assert.throws(() => parseConfigText('apis: [\n  - id: a\n', { source: 'bad.yaml', baseDir: dir }), (error: ConfigError) =>
      /^syntax error at line \d+, column \d+: \S/.test(error.lines()[0]!) && !error.lines()[0]!.includes('\n') && !error.lines()[0]!.endsWith(':'));
    assert.throws(() => loadConfigFile(join(dir, 'missing.yaml')), (error: ConfigError) => error.lines()[0]!.includes('file not found'));
  });

  it('reports the first syntax error and counts the ones it causes; an unquoted ${VAR} in a { } map gets a hint', () => {
    const text = 'apps:\n  - { id: "1", appKey: k, appSecret: ${APP_SECRET} }\napis:\n  - id: a\n    resources: { /x: { GET: { integration: { type: MOCK } } } }\n    stages: { prod: {} }\n';
    assert.throws(() => parseConfigText(text, { source: 'bad.yaml', baseDir: dir }), (error: ConfigError) => {
      const lines = error.lines();
      assert.equal(lines.filter((line) => line.includes('syntax error')).length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^syntax error at line 2, column \d+: .*; quote "\$\{VAR\}" inside a \{ … \} map \(\d+ more syntax errors after it, most likely caused by it\)$/);
      return true;
    });
    assert.equal(parseConfigText(text.replace('${APP_SECRET}', '"${APP_SECRET}"'), { source: 'ok.yaml', baseDir: dir, env: { APP_SECRET: 'secret' } }).config.apps[0]!.appSecret, 'secret');
  });

  it('reports shape errors and cross-reference errors in one run', () => {
    const config = base();
    config.apis[0].stages.prod.cacheClusterSize = '3';
    config.apis[0].stages.prod.methodSettings['pets/{petId}/DELETE'] = { cacheTtlInSeconds: 10 };
    config.apis[0].resources['/pets/{petId}'].GET.cacheKeyParameters.push('method.request.path.nope');
    config.apis.push({ ...base().apis[0], host: 'other.localhost' });
    const errors = errorsOf(config);
    assert.ok(errors.some((l) => l.startsWith('apis[0].stages.prod.cacheClusterSize')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('no method DELETE')), errors.join('\n'));
    assert.ok(errors.some((l) => l.includes('"nope" is not in')), errors.join('\n'));
    assert.ok(errors.some((l) => l.startsWith('apis[1].id: duplicate API id')), errors.join('\n'));
  });

  it('says each cause once: an unset variable is not reported again as the value it left empty', () => {
    const config = base();
    config.identities[0] = { name: 'a', accessKeyId: '${NOPE1}', secretAccessKey: '${NOPE2}', policy: [] };
    config.store.encryptionKey = '${NOPE3}';
    config.apis[0].stages.prod.methodSettings['*/*'].cacheDataEncrypted = true;
    const errors = errorsOf(config, {});
    assert.deepEqual(errors.map((l) => /NOPE\d/.exec(l)?.[0]).sort(), ['NOPE1', 'NOPE2', 'NOPE3'], errors.join('\n'));
  });

  it('says an empty file is empty', () => {
    assert.throws(() => parseConfigText('', { source: 'empty.yaml', baseDir: dir }), (error: ConfigError) =>
      error.lines().length === 1 && error.lines()[0]!.includes('the file is empty'));
  });
});
