/** `cachegate start`: run until SIGTERM/SIGINT, then drain and exit 0 (one gateway thread, or `--workers N` threads in one process). */
import { availableParallelism } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { startDemoBackend, type DemoBackend } from '../demo/backend.js';
import { demoConfig, demoInstructions } from '../demo/demo.js';
import { Gateway } from '../gateway/gateway.js';
import { ListenError } from '../gateway/listener.js';
import { createLogger, type LogFormat } from '../logging.js';
import { isGatewayThread, reportFailed, reportReady, startThreads, stopRequested, threadMetricsText, threadSharing, threadStart } from './workers.js';
import { threadId } from 'node:worker_threads';
import { reloader, reloadOnHangup } from './reload.js';

export interface StartOptions {
  config?: string;
  listen?: ListenAddress;
  admin?: ListenAddress;
  logLevel: LevelWithSilent;
  logFormat?: LogFormat;
  /** A number of gateway threads, or `auto`: one per core (see workerCount). */
  workers?: string;
}

const DEMO_BACKEND_ENV = 'CACHEGATE_DEMO_BACKEND';

export async function runStart(options: StartOptions): Promise<number> {
  if (isGatewayThread()) return runThread(options);
  let demo: DemoBackend | undefined;
  let loaded: LoadedConfig;
  if (options.config) {
    loaded = loadConfigFile(options.config);
  } else {
    demo = await startDemoBackend();
    loaded = demoConfig(demo.address);
  }
  return serve(options, loaded, demo, workerCount(options.workers, loaded.config.store.type));
}

/**
 * One gateway thread: the main one (which starts `threads - 1` more once it listens, and stops
 * them on SIGTERM/SIGINT) or one of those (which stops when the main thread asks).
 */
async function serve(options: StartOptions, loaded: LoadedConfig, demo: DemoBackend | undefined, threads: number): Promise<number> {
  const logger = createLogger(options.logLevel, options.logFormat);
  const inThread = isGatewayThread();
  const several = inThread || threads > 1;
  const total = inThread ? threadStart().threads : threads;
  // Threads share the memory store off-heap, its throttling table, API changes and nonces; Redis shares them itself.
  const sharing = several ? threadSharing(loaded, threads) : undefined;
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(loaded, { logger, listen: options.listen, admin: options.admin, ...sharing?.options });
  } catch (error) {
    sharing?.close();
    await demo?.close();
    throw error;
  }
  const metrics = several ? threadMetricsText(gateway.metrics.registry, total, threadId) : undefined;
  if (metrics) gateway.setMetricsText(metrics.text);
  if (inThread) {
    reportReady();
    await stopRequested(reloader(options.config, gateway, logger));
  } else {
    let group: ReturnType<typeof startThreads> | undefined;
    if (threads > 1) {
      group = startThreads(threads - 1, process.argv[1]!, process.argv.slice(2), { listenFds: gateway.listenFds, threads, ...sharing?.start, demoBackend: demo?.address });
      try {
        await group.ready;
      } catch (error) {
        await group.stop();
        await gateway.close();
        await demo?.close();
        throw new ListenError((error as Error).message);
      }
    }
    const workers = threads > 1 ? `\n${threads} workers (threads).` : '';
    // SPEC §8: SIGHUP re-reads the config file, here and (relayed) in every other thread.
    const stopReloading = reloadOnHangup(options.config, gateway, logger);
    const relayHangup = () => group?.reload();
    process.on('SIGHUP', relayHangup);
    if (demo) process.stdout.write(demoInstructions(gateway.dataUrl, gateway.adminUrl, demo.address) + workers + '\n');
    else process.stdout.write(`cachegate: serving ${loaded.source} on ${gateway.dataUrl} (admin ${gateway.adminUrl})${workers}\n`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info({ signal }, 'draining');
    // A second signal while draining stops at once.
    const force = () => process.exit(1);
    process.once('SIGTERM', force).once('SIGINT', force);
    stopReloading();
    process.off('SIGHUP', relayHangup);
    await group?.stop();
  }
  await gateway.close();
  metrics?.close();
  sharing?.close();
  await demo?.close();
  logger.info('stopped');
  return 0;
}

async function runThread(options: StartOptions): Promise<number> {
  const backend = threadStart().demoBackend;
  const loaded = options.config ? loadConfigFile(options.config) : demoConfig(backend ?? '127.0.0.1:1');
  try {
    return await serve(options, loaded, undefined, 1);
  } catch (error) {
    reportFailed(error instanceof ListenError ? error.message : `gateway thread failed to start: ${(error as Error).message}`);
    return 1;
  }
}

/**
 * `auto`: one thread per core, with any store (the memory store is shared by the threads). No
 * flag: as before threads existed — one with the memory store, one per core with Redis.
 */
function workerCount(requested: string | undefined, storeType: string): number {
  if (requested === 'auto' || (requested === undefined && storeType !== 'memory')) return availableParallelism();
  return requested === undefined ? 1 : Math.max(1, Number(requested));
}
