/**
 * Control-plane state shared by every gateway node on one store (SPEC §8: changes "survive a
 * restart when … the store is shared"). A store that is shared (Redis) implements it; the memory
 * store does not. The gateway starts from the shared API definitions when there are any, saves
 * and announces its own changes, and applies the changes other nodes announce.
 */
import type { CacheStore } from './store.js';

export interface SharedState {
  /** The saved API definitions (unvalidated JSON), or undefined when none were saved yet. */
  loadApis(): Promise<unknown | undefined>;
  /** Saves the API definitions and announces them to the other nodes. */
  saveApis(apis: unknown): Promise<void>;
  /** Called with the API definitions another node saved (never for this node's own saves). */
  onApisChanged(listener: (apis: unknown) => void): void;
}

export function sharedStateOf(store: CacheStore): SharedState | undefined {
  const candidate = store as Partial<SharedState>;
  return typeof candidate.loadApis === 'function' && typeof candidate.saveApis === 'function' && typeof candidate.onApisChanged === 'function'
    ? (store as CacheStore & SharedState)
    : undefined;
}
