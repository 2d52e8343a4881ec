/**
 * The in-memory store: one byte-budgeted LRU per stage. A JS Map keeps insertion order, so
 * re-inserting on use makes its first key the least recently used — O(1) get, set and evict
 * without a linked list of our own. Answers synchronously: a hit takes no promise.
 *
 * Flushing a stage swaps in a new empty space (O(1) whatever its size); the old one is garbage.
 */
import { entrySize, type CacheEntry } from '../entry.js';
import type { CacheStore, StageStats } from '../store.js';

interface Slot {
  readonly entry: CacheEntry;
  readonly size: number;
}

class StageSpace {
  readonly slots = new Map<string, Slot>();
  bytes = 0;
  evictions = 0;
  constructor(readonly capacityBytes: number) {}

  remove(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.bytes -= slot.size;
  }
}

export class MemoryStore implements CacheStore {
  private readonly spaces = new Map<string, StageSpace>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  get(stage: string, key: string): CacheEntry | undefined {
    const space = this.spaces.get(stage);
    const slot = space?.slots.get(key);
    if (!space || !slot) return undefined;
    if (this.now() >= slot.entry.deleteAt) {
      space.remove(key, slot);
      return undefined;
    }
    // Most recently used goes last.
    space.slots.delete(key);
    space.slots.set(key, slot);
    return slot.entry;
  }

  set(stage: string, key: string, entry: CacheEntry): void {
    const space = this.spaces.get(stage);
    if (!space) return;
    const size = entrySize(key, entry);
    const old = space.slots.get(key);
    if (old) space.remove(key, old);
    // Larger than the whole budget: never stored (it would evict everything and not fit).
    if (size > space.capacityBytes) return;
    while (space.bytes + size > space.capacityBytes) {
      const [oldestKey, oldest] = space.slots.entries().next().value as [string, Slot];
      space.remove(oldestKey, oldest);
      // An expired entry leaving is not an eviction.
      if (this.now() < oldest.entry.deleteAt) space.evictions++;
    }
    space.slots.set(key, { entry, size });
    space.bytes += size;
  }

  delete(stage: string, key: string): void {
    const space = this.spaces.get(stage);
    const slot = space?.slots.get(key);
    if (space && slot) space.remove(key, slot);
  }

  flush(stage: string): void {
    const space = this.spaces.get(stage);
    if (space) {
      const fresh = new StageSpace(space.capacityBytes);
      fresh.evictions = space.evictions;
      this.spaces.set(stage, fresh);
    }
  }

  configureStage(stage: string, capacityBytes: number): void {
    if (this.spaces.get(stage)?.capacityBytes === capacityBytes) return;
    // AWS: a new size is a new, empty cache.
    this.spaces.set(stage, new StageSpace(capacityBytes));
  }

  dropStage(stage: string): void {
    this.spaces.delete(stage);
  }

  stats(stage: string): StageStats | undefined {
    const space = this.spaces.get(stage);
    return space && { entries: space.slots.size, bytes: space.bytes, capacityBytes: space.capacityBytes, evictions: space.evictions };
  }

  close(): void {
    this.spaces.clear();
  }
}
