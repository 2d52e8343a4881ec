/** `cachegate start`: run until SIGTERM/SIGINT, then drain and exit 0. */
import type { LevelWithSilent } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { startDemoBackend, type DemoBackend } from '../demo/backend.js';
import { demoConfig, demoInstructions } from '../demo/demo.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger, type LogFormat } from '../logging.js';

export interface StartOptions {
  config?: string;
  listen?: ListenAddress;
  admin?: ListenAddress;
  logLevel: LevelWithSilent;
  logFormat?: LogFormat;
}

export async function runStart(options: StartOptions): Promise<number> {
  const logger = createLogger(options.logLevel, options.logFormat);
  let demo: DemoBackend | undefined;
  let loaded: LoadedConfig;
  if (options.config) {
    loaded = loadConfigFile(options.config);
  } else {
    demo = await startDemoBackend();
    loaded = demoConfig(demo.address);
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(loaded, { logger, listen: options.listen, admin: options.admin });
  } catch (error) {
    await demo?.close();
    throw error;
  }
  if (demo) process.stdout.write(demoInstructions(gateway.dataUrl, gateway.adminUrl, demo.address) + '\n');
  else process.stdout.write(`cachegate: serving ${loaded.source} on ${gateway.dataUrl} (admin ${gateway.adminUrl})\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'draining');
  // A second signal while draining stops at once.
  const force = () => process.exit(1);
  process.once('SIGTERM', force).once('SIGINT', force);
  await gateway.close();
  await demo?.close();
  logger.info('stopped');
  return 0;
}
