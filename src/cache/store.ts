/**
 * The narrow store interface (STYLE.md practice 2). The memory store answers synchronously so the
 * hit path takes no promise; a remote store (Redis) answers with promises. Callers handle both.
 *
 * Entries live in *stage spaces*: one per API stage, named by `stageId` (see stageId()). A space
 * has its own byte budget and is flushed as a whole in O(1).
 */
import type { CacheEntry } from './entry.js';
import type { PurgeMatch } from './tags.js';

export type MaybePromise<T> = T | Promise<T>;

/**
 * Deletes an entry, best effort: a store that fails (throws, or rejects later — Redis gone
 * mid-request) leaves the entry to its TTL and the budget, and the caller's answer still goes out;
 * a rejection must never go unhandled (that ends the process).
 */
export function deleteBestEffort(store: CacheStore, stage: string, key: string): void {
  try {
    const deleted = store.delete(stage, key);
    if (deleted instanceof Promise) deleted.catch(() => undefined);
  } catch {
    // As above.
  }
}

export interface StageStats {
  entries: number;
  bytes: number;
  capacityBytes: number;
  evictions: number;
}

export interface CacheStore {
  /** The entry, or undefined when absent, expired (past deleteAt) or unreadable. */
  get(stage: string, key: string): MaybePromise<CacheEntry | undefined>;
  /** Stores (or replaces) an entry; may evict least recently used entries of the same stage. */
  set(stage: string, key: string, entry: CacheEntry): MaybePromise<void>;
  delete(stage: string, key: string): MaybePromise<void>;
  /** Empties a stage space at once, whatever its size. */
  flush(stage: string): MaybePromise<void>;
  /**
   * Removes the stage's entries carrying any tag of `match.tags`, or under `match.pathPrefix`
   * (tags.ts); resolves with how many were removed. Neither given: removes nothing.
   */
  purge(stage: string, match: PurgeMatch): MaybePromise<number>;
  /** Creates or resizes a stage space. A new capacity starts a new, empty space (AWS does the same). */
  configureStage(stage: string, capacityBytes: number): MaybePromise<void>;
  /** Drops a stage space entirely (stage deleted or its cache disabled). */
  dropStage(stage: string): MaybePromise<void>;
  stats(stage: string): StageStats | undefined;
  /** Optional: drops expired entries now, so a space that never evicts frees their room. */
  pruneExpired?(stage: string): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/** The space name of an API stage; NUL cannot appear in either part, so ids never collide. */
export function stageId(apiId: string, stage: string): string {
  return `${apiId}\u0000${stage}`;
}
