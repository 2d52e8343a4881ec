/**
 * Builds the Integration for a method's config. Called when config is compiled, never per request.
 */
import type { IntegrationConfig } from '../config/schema.js';
import { createFunctionIntegration } from './function.js';
import { createHttpProxyIntegration, ProxyPool } from './http-proxy.js';
import type { Integration } from './integration.js';
import { createMockIntegration } from './mock.js';

export interface IntegrationDeps {
  /** Directory FUNCTION handler paths are relative to (the config file's). */
  readonly baseDir: string;
  /** Backend connections shared by every HTTP_PROXY integration; the gateway closes it on shutdown. */
  readonly proxyPool: ProxyPool;
  /** `requestContext.accountId` in FUNCTION events (config `gateway.accountId`). */
  readonly accountId?: string;
}

export function createIntegration(config: IntegrationConfig, deps: IntegrationDeps): Integration {
  switch (config.type) {
    case 'HTTP_PROXY':
      return createHttpProxyIntegration(config, deps.proxyPool);
    case 'MOCK':
      return createMockIntegration(config);
    case 'FUNCTION':
      return createFunctionIntegration(config, deps);
    default:
      return unreachable(config);
  }
}

function unreachable(config: never): never {
  throw new Error(`unknown integration type ${JSON.stringify((config as { type?: unknown }).type)}`);
}

export { ProxyPool } from './http-proxy.js';
export { IntegrationError } from './integration.js';
export type { Integration, IntegrationRequest, IntegrationResponse } from './integration.js';
