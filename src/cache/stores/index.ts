/** Builds the configured cache store. */
import type { Logger } from 'pino';
import type { StoreConfig } from '../../config/schema.js';
import type { CacheStore } from '../store.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis/redis-store.js';
import { allocateBuffers, resolveSizes, type SharedStoreBuffers } from './shared/layout.js';
import { SharedStore } from './shared/shared-store.js';

export interface StoreOptions {
  now: () => number;
  logger?: Logger;
  /**
   * The memory store's buffers when several gateway threads serve one process (cli/workers.ts):
   * every thread attaches to the same off-heap store.
   */
  sharedMemory?: SharedStoreBuffers;
}

export function createStore(config: StoreConfig, options: StoreOptions): CacheStore {
  if (config.type === 'redis' || config.type === 'redis-cluster') return new RedisStore(config, options);
  if (options.sharedMemory) return SharedStore.attach(options.sharedMemory, { now: options.now });
  return new SharedStore({ now: options.now });
}

/** Buffers of a new off-heap memory store, for the threads of one process to share. */
export function createSharedMemory(): SharedStoreBuffers {
  return allocateBuffers(resolveSizes());
}
