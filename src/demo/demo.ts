/**
 * The embedded demo (`cachegate start` with no config): a slow pet-store backend, one API with a
 * `dev` stage (no cache) and a `prod` stage (cache on), and the commands to try printed.
 */
import { validateConfig, type LoadedConfig } from '../config/load.js';

export const DEMO_API_KEY = 'demo-admin-key';
/** SigV4 credentials of the demo identity, for the AWS SDK / CLI. */
export const DEMO_ACCESS_KEY_ID = 'AKIDCACHEGATEDEMO';
export const DEMO_SECRET_ACCESS_KEY = 'demo-secret-access-key';

export function demoConfig(backendAddress: string): LoadedConfig {
  const proxy = (path: string) => ({ type: 'HTTP_PROXY', uri: `http://\${stageVariables.backend}${path}`, timeoutMs: 5000 });
  return validateConfig(
    {
      identities: [
        {
          name: 'demo-admin',
          apiKey: DEMO_API_KEY,
          accessKeyId: DEMO_ACCESS_KEY_ID,
          secretAccessKey: DEMO_SECRET_ACCESS_KEY,
          policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }],
        },
      ],
      apis: [
        {
          id: 'petstore',
          name: 'PetStore (demo)',
          resources: {
            '/pets': {
              GET: { cacheKeyParameters: ['method.request.querystring.type'], integration: proxy('/pets') },
            },
            '/pets/{petId}': { GET: { integration: proxy('/pets/{petId}') } },
            '/hello': {
              GET: {
                integration: { type: 'MOCK', statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' },
              },
            },
          },
          stages: {
            dev: { variables: { backend: backendAddress }, cacheClusterEnabled: false },
            prod: {
              variables: { backend: backendAddress },
              cacheClusterEnabled: true,
              cacheClusterSize: '0.5',
              methodSettings: {
                '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 },
                'pets/{petId}/GET': { cacheTtlInSeconds: 60 },
              },
            },
          },
        },
      ],
    },
    { source: '<embedded demo>', baseDir: process.cwd() },
  );
}

export function demoInstructions(dataUrl: string, adminUrl: string, backendAddress: string): string {
  return [
    '',
    `cachegate demo is running: one API (petstore) in front of a backend at ${backendAddress} that takes 150 ms per call.`,
    '',
    `  stage prod (cache on, TTL 300 s; /pets/{petId} 60 s)   ${dataUrl}/prod/pets`,
    `  stage dev  (no cache)                                  ${dataUrl}/dev/pets`,
    '',
    'Try:',
    `  curl -i '${dataUrl}/prod/pets?type=dog'        # first call: Cache-Status: ... fwd=uri-miss; stored (~150 ms)`,
    `  curl -i '${dataUrl}/prod/pets?type=dog'        # again: Cache-Status: cachegate; hit (~1 ms)`,
    `  curl -i '${dataUrl}/dev/pets?type=dog'         # dev has no cache: always ~150 ms`,
    `  curl -i -H 'Cache-Control: max-age=0' -H 'x-api-key: ${DEMO_API_KEY}' '${dataUrl}/prod/pets?type=dog'   # refresh one entry`,
    `  curl -i -X DELETE -H 'x-api-key: ${DEMO_API_KEY}' ${adminUrl}/restapis/petstore/stages/prod/cache/tags/type-dog   # purge by tag (the backend sends Surrogate-Key)`,
    `  curl -i -X DELETE -H 'x-api-key: ${DEMO_API_KEY}' ${adminUrl}/restapis/petstore/stages/prod/cache/data   # flush the stage`,
    `  curl -s ${adminUrl}/metrics | grep cachegate_cache`,
    '',
    `Web console: ${adminUrl}/console   (sign in with the API key ${DEMO_API_KEY})`,
    '',
    `AWS SDK / CLI: endpoint ${adminUrl}, region us-east-1, access key ${DEMO_ACCESS_KEY_ID}, secret ${DEMO_SECRET_ACCESS_KEY}`,
    `  e.g. node examples/sdk-quickstart.mjs ${adminUrl} ${dataUrl} ${backendAddress}`,
    '',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}
