/** Starts a real gateway on loopback ports chosen by the OS, from a config object. */
import { validateConfig } from '../../src/config/load.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { startThreadedGateway, type ThreadedOptions } from './threads.js';

/** `threads` > 1: that many gateway threads serving together, as `cachegate start --workers N` (threads.ts). */
export type TestGatewayOptions = { baseDir?: string } & ((GatewayOptions & { threads?: 1 }) | (ThreadedOptions & { threads: number }));

export async function startGateway(raw: unknown, options: TestGatewayOptions = {}): Promise<Gateway> {
  const { baseDir = process.cwd(), threads = 1, ...gatewayOptions } = options;
  const loaded = validateConfig(raw, { source: '<test>', baseDir });
  const chosen = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, ...gatewayOptions };
  return threads > 1 ? startThreadedGateway(raw, loaded, threads, baseDir, chosen) : Gateway.start(loaded, chosen);
}
