/** `cachegate start`: run until SIGTERM/SIGINT, then drain and exit 0 (one process, or `--workers N`). */
import { availableParallelism } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { startDemoBackend, type DemoBackend } from '../demo/backend.js';
import { demoConfig, demoInstructions } from '../demo/demo.js';
import { Gateway } from '../gateway/gateway.js';
import { ListenError } from '../gateway/listener.js';
import { createLogger, type LogFormat } from '../logging.js';
import { isGatewayWorker, reportFailed, reportReady, runPrimary, workerCountOfPrimary, workerMetricsText, workerNonces, workerSiblings } from './workers.js';
import { reloadOnHangup } from './reload.js';

export interface StartOptions {
  config?: string;
  listen?: ListenAddress;
  admin?: ListenAddress;
  logLevel: LevelWithSilent;
  logFormat?: LogFormat;
  /** A number, or `auto`: one per core with a shared store, 1 with the memory store. */
  workers?: string;
}

const DEMO_BACKEND_ENV = 'CACHEGATE_DEMO_BACKEND';

export async function runStart(options: StartOptions): Promise<number> {
  if (isGatewayWorker()) return runWorker(options);
  let demo: DemoBackend | undefined;
  let loaded: LoadedConfig;
  if (options.config) {
    loaded = loadConfigFile(options.config);
  } else {
    demo = await startDemoBackend();
    loaded = demoConfig(demo.address);
  }
  const workers = workerCount(options.workers, loaded.config.store.type);
  if (workers > 1) {
    const banner = (dataUrl: string, adminUrl: string) => (demo
      ? demoInstructions(dataUrl, adminUrl, demo.address)
      : `cachegate: serving ${loaded.source} on ${dataUrl} (admin ${adminUrl})`) + `\n${workers} workers.\n`;
    const code = await runPrimary(workers, demo ? { [DEMO_BACKEND_ENV]: demo.address } : {}, banner);
    await demo?.close();
    return code;
  }
  return serve(options, loaded, demo);
}

/** One gateway process: the only one, or a worker of `--workers`. */
async function serve(options: StartOptions, loaded: LoadedConfig, demo: DemoBackend | undefined): Promise<number> {
  const logger = createLogger(options.logLevel, options.logFormat);
  const worker = isGatewayWorker();
  // Memory caches are per process: siblings must repeat each other's flushes and changes.
  const siblings = worker && loaded.config.store.type === 'memory' ? workerSiblings() : undefined;
  let gateway: Gateway;
  try {
    // Alibaba nonces likewise: with the memory store the primary keeps the one record all workers check.
    const nonces = worker && loaded.config.store.type === 'memory' ? workerNonces() : undefined;
    gateway = await Gateway.start(loaded, { logger, listen: options.listen, admin: options.admin, siblings, workers: workerCountOfPrimary(), nonces });
  } catch (error) {
    await demo?.close();
    throw error;
  }
  if (worker) {
    gateway.setMetricsText(workerMetricsText(gateway.metrics.registry));
    reportReady(gateway.dataUrl, gateway.adminUrl);
  } else if (demo) {
    process.stdout.write(demoInstructions(gateway.dataUrl, gateway.adminUrl, demo.address) + '\n');
  } else {
    process.stdout.write(`cachegate: serving ${loaded.source} on ${gateway.dataUrl} (admin ${gateway.adminUrl})\n`);
  }

  // SPEC §8: SIGHUP re-reads the config file (the demo has none: the signal is logged and ignored).
  const stopReloading = reloadOnHangup(options.config, gateway, logger);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  stopReloading();
  logger.info({ signal }, 'draining');
  // A second signal while draining stops at once.
  const force = () => process.exit(1);
  process.once('SIGTERM', force).once('SIGINT', force);
  await gateway.close();
  await demo?.close();
  logger.info('stopped');
  return 0;
}

async function runWorker(options: StartOptions): Promise<number> {
  const backend = process.env[DEMO_BACKEND_ENV];
  const loaded = options.config ? loadConfigFile(options.config) : demoConfig(backend ?? '127.0.0.1:1');
  try {
    return await serve(options, loaded, undefined);
  } catch (error) {
    reportFailed(error instanceof ListenError ? error.message : `worker failed to start: ${(error as Error).message}`);
    return 1;
  } finally {
    // The IPC channel to the primary would keep this process alive.
    process.disconnect?.();
  }
}

function workerCount(requested: string | undefined, storeType: string): number {
  if (requested === undefined || requested === 'auto') return storeType === 'memory' ? 1 : availableParallelism();
  return Math.max(1, Number(requested));
}
