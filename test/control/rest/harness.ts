/**
 * Test harness for the control plane: a counting backend, a gateway in front of it with an admin
 * identity allowed `apigateway:*` (and a read-only one), and real AWS SDK clients for both.
 */
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../../helpers/backend.js';
import { startGateway } from '../../helpers/gateway.js';
import { call, type Answer } from '../../helpers/http.js';

export const REGION = 'us-east-1';
export const ADMIN = { accessKeyId: 'AKIDCONTROLADMIN', secretAccessKey: 'control-admin-secret/+x' };
export const ADMIN_API_KEY = 'control-admin-api-key';
export const READER = { accessKeyId: 'AKIDCONTROLREADER', secretAccessKey: 'control-reader-secret' };

export interface Harness {
  readonly gateway: Gateway;
  readonly backend: CountingBackend;
  /** The admin identity (apigateway:*) through the real SDK; no retries so errors surface at once. */
  readonly sdk: APIGatewayClient;
  /** An identity allowed only apigateway:GET. */
  readonly readerSdk: APIGatewayClient;
  /** A data-plane GET (`/prod/pets/1`), optionally with headers. */
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

export function identities() {
  return [
    { name: 'admin', ...ADMIN, apiKey: ADMIN_API_KEY, policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }] },
    { name: 'reader', ...READER, policy: [{ effect: 'Allow', action: 'apigateway:GET', resource: '*' }] },
  ];
}

/** The pet store: `/pets`, `/pets/{petId}` (GET, POST) on the backend; `/where` follows `${stageVariables.backend}`. */
export function petstore(backend: CountingBackend): Record<string, unknown> {
  const proxy = (path: string) => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
  return {
    id: 'petstore',
    name: 'PetStore',
    resources: {
      '/pets': { GET: proxy('/pets') },
      '/pets/{petId}': { GET: proxy('/pets/{petId}'), POST: proxy('/pets/{petId}') },
      '/where': { GET: { integration: { type: 'HTTP_PROXY', uri: 'http://${stageVariables.backend}/where' } } },
    },
    stages: {
      prod: {
        variables: { backend: backend.address },
        cacheClusterEnabled: true,
        cacheCapacityBytes: 1_048_576,
        methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } },
      },
      dev: { variables: { backend: backend.address }, cacheClusterEnabled: false },
    },
  };
}

export function sdkClient(endpoint: string, credentials = ADMIN): APIGatewayClient {
  // A copy: the SDK marks the object it is given (`$source`), which would leak into the config.
  return new APIGatewayClient({ endpoint, region: REGION, credentials: { ...credentials }, maxAttempts: 1 });
}

export async function startHarness(options: { apis?: (backend: CountingBackend) => unknown[]; gateway?: Record<string, unknown>; store?: Record<string, unknown> } = {}): Promise<Harness> {
  const backend = await startBackend();
  const gateway = await startGateway({
    ...(options.gateway ? { gateway: options.gateway } : {}),
    ...(options.store ? { store: options.store } : {}),
    identities: identities(),
    apis: options.apis ? options.apis(backend) : [petstore(backend)],
  });
  const sdk = sdkClient(gateway.adminUrl);
  const readerSdk = sdkClient(gateway.adminUrl, READER);
  return {
    gateway,
    backend,
    sdk,
    readerSdk,
    get: (path, headers) => call(`${gateway.dataUrl}${path}`, { headers }),
    async close() {
      sdk.destroy();
      readerSdk.destroy();
      await gateway.close();
      await backend.close();
    },
  };
}

/** Backend calls made while `run` runs: 0 means every request was a cache hit. */
export async function backendCallsDuring(backend: CountingBackend, run: () => Promise<unknown>): Promise<number> {
  const before = backend.calls;
  await run();
  return backend.calls - before;
}

/** Runs `run` against a fresh harness, closed afterwards whatever happens. */
export async function withHarness(run: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness();
  try {
    await run(h);
  } finally {
    await h.close();
  }
}
