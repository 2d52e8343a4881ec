/** Builds the configured cache store. */
import type { Logger } from 'pino';
import type { StoreConfig } from '../../config/schema.js';
import type { CacheStore } from '../store.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis/redis-store.js';

export function createStore(config: StoreConfig, options: { now: () => number; logger?: Logger }): CacheStore {
  if (config.type === 'redis' || config.type === 'redis-cluster') return new RedisStore(config, options);
  return new MemoryStore({ now: options.now });
}
