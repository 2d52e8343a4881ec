// Drives cachegate with nothing but the AWS SDK: import an OpenAPI definition, deploy a cached
// stage, tune a TTL per method, watch the cache work, flush, and delete the API again.
//   npm start        (the demo prints this command with its three addresses)
//   node examples/sdk-quickstart.mjs http://127.0.0.1:9090 http://127.0.0.1:8080 127.0.0.1:BACKEND_PORT
import { get } from 'node:http';
import {
  APIGatewayClient, CreateDeploymentCommand, DeleteRestApiCommand, FlushStageCacheCommand, GetStageCommand, ImportRestApiCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-api-gateway';

if (process.argv.length !== 5) {
  console.error('usage: node examples/sdk-quickstart.mjs ADMIN_URL DATA_URL BACKEND_HOST:PORT');
  console.error('  start the demo first (npm start); it prints this command with its three addresses filled in.');
  process.exit(2);
}
const [admin, data, backend] = process.argv.slice(2);
const client = new APIGatewayClient({
  endpoint: admin,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDCACHEGATEDEMO', secretAccessKey: 'demo-secret-access-key' },
});

const openapi = `
openapi: 3.0.1
info: { title: Pets via SDK, version: "1" }
paths:
  /pets/{petId}:
    get:
      parameters: [{ name: petId, in: path, required: true, schema: { type: string } }]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://${backend}/pets/{petId}
        requestParameters: { integration.request.path.petId: method.request.path.petId }
`;

const api = await client.send(new ImportRestApiCommand({ body: new TextEncoder().encode(openapi) }));
console.log(`imported API ${api.id} (${api.name})`);
try {
  await client.send(new CreateDeploymentCommand({ restApiId: api.id, stageName: 'live', cacheClusterEnabled: true, cacheClusterSize: '0.5' }));
  await client.send(new UpdateStageCommand({
    restApiId: api.id, stageName: 'live',
    patchOperations: [{ op: 'replace', path: '/~1pets~1{petId}/GET/caching/ttlInSeconds', value: '120' }],
  }));
  const stage = await client.send(new GetStageCommand({ restApiId: api.id, stageName: 'live' }));
  console.log(`stage live: ${stage.cacheClusterStatus}, TTL of pets/{petId}/GET = ${stage.methodSettings?.['pets/{petId}/GET']?.cacheTtlInSeconds} s`);

  // The Host {apiId}.execute-api.* selects the imported API, as on AWS.
  const call = (path) => new Promise((resolve, reject) => {
    get(`${data}${path}`, { headers: { host: `${api.id}.execute-api.localhost` } }, (response) => {
      response.resume().on('end', () => resolve(response));
    }).on('error', reject);
  });
  for (const attempt of [1, 2]) {
    const started = performance.now();
    const response = await call('/live/pets/1');
    console.log(`GET /live/pets/1 #${attempt}: ${response.statusCode} ${response.headers['cache-status']} (${(performance.now() - started).toFixed(0)} ms)`);
    if (response.statusCode !== 200) {
      throw new Error(`no pet from the backend at ${backend} through the gateway (status ${response.statusCode}); is it the demo's backend?`);
    }
  }
  await client.send(new FlushStageCacheCommand({ restApiId: api.id, stageName: 'live' }));
  console.log(`after FlushStageCache: ${(await call('/live/pets/1')).headers['cache-status']}`);
} catch (error) {
  console.error(`sdk-quickstart: ${error.message}`);
  process.exitCode = 1;
} finally {
  // Each run leaves nothing behind.
  await client.send(new DeleteRestApiCommand({ restApiId: api.id }));
  console.log(`deleted API ${api.id}`);
}
