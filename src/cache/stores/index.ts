/** Builds the configured cache store. */
import { totalmem } from 'node:os';
import type { Logger } from 'pino';
import type { Config, StoreConfig } from '../../config/schema.js';
import { stageCapacityBytes } from '../capacity.js';
import type { CacheStore } from '../store.js';
import { RedisStore } from './redis/redis-store.js';
import { allocateBuffers, MAX_ARENA_BYTES, resolveSizes, type SharedStoreBuffers } from './shared/layout.js';
import { SharedStore } from './shared/shared-store.js';

export interface StoreOptions {
  now: () => number;
  logger?: Logger;
  /** The memory store's arena (memoryArenaBytes()); ignored when attaching to `sharedMemory`. */
  arenaBytes?: number;
  /**
   * The memory store's buffers when several gateway threads serve one process (cli/workers.ts):
   * every thread attaches to the same off-heap store.
   */
  sharedMemory?: SharedStoreBuffers;
}

export function createStore(config: StoreConfig, options: StoreOptions): CacheStore {
  if (config.type === 'redis' || config.type === 'redis-cluster') return new RedisStore(config, options);
  if (options.sharedMemory) return SharedStore.attach(options.sharedMemory, { now: options.now });
  return new SharedStore({ now: options.now, arenaBytes: options.arenaBytes });
}

/** Buffers of a new off-heap memory store, for the threads of one process to share. */
export function createSharedMemory(arenaBytes: number): SharedStoreBuffers {
  return allocateBuffers(resolveSizes({ arenaBytes }));
}

/** Plug-in spaces are one per plug-in and app, created on use: room for a few per plug-in. */
const PLUGIN_SPACES_ASSUMED = 4;
const MIN_ARENA_BYTES = 16 * 2 ** 20;

/**
 * The memory store's arena: what the configured stage caches, httpCache spaces and caching plug-ins may hold
 * together, at most half the machine's memory and under 4 GiB. Address space is committed only as
 * entries arrive, but it is reserved at once — and a reservation larger than memory makes the OS
 * refuse later forks (spawn ENOMEM) under its overcommit heuristic, so it is never "as large as
 * possible". Stages created later share it; when it is full the least recently used entry of any
 * stage makes room (shared-store.ts).
 */
export function memoryArenaBytes(config: Pick<Config, 'apis' | 'cachePlugins' | 'httpCaches'>): number {
  let wanted = 0;
  for (const api of config.apis) {
    // Each stage of an API has a space per httpCache its methods use (policies/http/policy.ts).
    let httpCacheBytes = 0;
    for (const name of httpCachesUsed(api)) httpCacheBytes += config.httpCaches[name]?.capacityBytes ?? 0;
    for (const stage of Object.values(api.stages ?? {})) {
      if (stage.cacheClusterEnabled) wanted += stageCapacityBytes(stage);
      wanted += httpCacheBytes;
    }
  }
  for (const plugin of Object.values(config.cachePlugins ?? {})) wanted += PLUGIN_SPACES_ASSUMED * plugin.cacheSpaceBytes;
  return Math.max(MIN_ARENA_BYTES, Math.min(wanted, MAX_ARENA_BYTES, Math.floor(totalmem() / 2)));
}

/** The httpCache names an API's methods use, in its resources or any of its deployments (a stage may serve one). */
function httpCachesUsed(api: Config['apis'][number]): Set<string> {
  const names = new Set<string>();
  const trees = [api.resources, ...Object.values(api.deployments ?? {}).map((deployment) => deployment.resources)];
  for (const resources of trees) {
    for (const methods of Object.values(resources ?? {})) {
      for (const method of Object.values(methods ?? {})) if (method?.httpCache !== undefined) names.add(method.httpCache);
    }
  }
  return names;
}
