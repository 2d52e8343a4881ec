/**
 * SIGHUP: re-read the config file and apply it (SPEC §8). The file is validated first; an invalid
 * file leaves the running config in place and every error in the log. Reloads run one at a time.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import type { Gateway } from '../gateway/gateway.js';

/** Installs the SIGHUP handler; returns its removal. */
export function reloadOnHangup(file: string | undefined, gateway: Gateway, logger: Logger): () => void {
  const onHangup = reloader(file, gateway, logger);
  process.on('SIGHUP', onHangup);
  return () => process.off('SIGHUP', onHangup);
}

/** A reload trigger that runs reloads one at a time (gateway threads get SIGHUP relayed, cli/workers.ts). */
export function reloader(file: string | undefined, gateway: Gateway, logger: Logger): () => void {
  let queue = Promise.resolve();
  return () => {
    queue = queue.then(() => reload(file, gateway, logger));
  };
}

async function reload(file: string | undefined, gateway: Gateway, logger: Logger): Promise<void> {
  if (!file) {
    logger.warn('SIGHUP: the demo has no config file to reload');
    return;
  }
  try {
    await gateway.reload(loadConfigFile(file));
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error({ file, errors: error.lines() }, `config not reloaded: ${error.lines().join('; ')}; the running config stays`);
    } else {
      logger.error({ file, err: (error as Error).message }, `config not reloaded: ${(error as Error).message}; the running config stays`);
    }
  }
}
