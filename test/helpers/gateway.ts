/** Starts a real gateway on loopback ports chosen by the OS, from a config object. */
import { validateConfig } from '../../src/config/load.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';

export async function startGateway(raw: unknown, options: GatewayOptions & { baseDir?: string } = {}): Promise<Gateway> {
  const loaded = validateConfig(raw, { source: '<test>', baseDir: options.baseDir ?? process.cwd() });
  return Gateway.start(loaded, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    ...options,
  });
}
