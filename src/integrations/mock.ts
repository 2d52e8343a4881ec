/**
 * MOCK: a fixed answer from config, no backend (AWS "mock integration"). Everything is computed
 * once when the integration is built; a request only copies the header map.
 */
import type { MockIntegrationConfig } from '../config/schema.js';
import type { Integration, IntegrationResponse } from './integration.js';

export function createMockIntegration(config: MockIntegrationConfig): Integration {
  const body = Buffer.from(config.body, 'utf8');
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(config.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  // The real length always wins over a configured one, which could only be wrong.
  headers['content-length'] = String(body.length);
  const frozenHeaders = Object.freeze(headers);

  return {
    invoke: (): Promise<IntegrationResponse> =>
      // A fresh header map per answer: the gateway adds its own headers (Cache-Status, …) to it.
      Promise.resolve({ statusCode: config.statusCode, headers: { ...frozenHeaders }, body }),
  };
}
