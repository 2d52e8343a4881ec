/** Builds the configured cache store. */
import { ConfigError } from '../../config/errors.js';
import type { StoreConfig } from '../../config/schema.js';
import type { CacheStore } from '../store.js';
import { MemoryStore } from './memory.js';

export function createStore(config: StoreConfig, options: { now: () => number }): CacheStore {
  if (config.type === 'memory') return new MemoryStore({ now: options.now });
  throw new ConfigError('store', [{ path: ['store', 'type'], message: `${config.type} is not available in this version yet (use memory)` }]);
}
