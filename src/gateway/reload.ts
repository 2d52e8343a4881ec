/**
 * What a SIGHUP reload may change in a running process (SPEC §8). Listen addresses and the store
 * are bound at start (sockets, connections, the entries themselves): a new value is reported and
 * the running one kept. Everything else comes from the new file.
 */
import type { Config } from '../config/schema.js';

export interface ReloadDecisions {
  /** The config to run with: the new file, with the settings that need a restart as they were. */
  readonly config: Config;
  /** Settings the new file changes that only a restart applies (for the log). */
  readonly kept: string[];
}

export function reloadDecisions(running: Config, next: Config): ReloadDecisions {
  const kept: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(running.gateway.listen, next.gateway.listen)) kept.push('gateway.listen');
  if (!same(running.gateway.admin, next.gateway.admin)) kept.push('gateway.admin');
  if (running.gateway.stateFile !== next.gateway.stateFile) kept.push('gateway.stateFile');
  if (!same(running.store, next.store)) kept.push('store');
  const config: Config = Object.freeze({
    ...next,
    gateway: Object.freeze({ ...next.gateway, listen: running.gateway.listen, admin: running.gateway.admin, stateFile: running.gateway.stateFile }),
    store: running.store,
  });
  return { config, kept };
}
