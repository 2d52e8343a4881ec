/**
 * `store.localCacheMs`: a small in-process copy of recently read or written Redis entries, so a
 * repeated hit costs no Redis round trip. Entries are named by stage hash, generation and key: a
 * flush (a new generation) makes every copy unreachable at once; purges and deletes on any node are
 * announced on pub/sub and drop the stage's copies. A client refresh on another node is seen here
 * within `localCacheMs` (the bound of its staleness). Bounded by count; oldest copies go first.
 */
import type { CacheEntry } from '../../entry.js';

const MAX_LOCAL_ENTRIES = 10_000;

export class LocalEntries {
  private readonly entries = new Map<string, { entry: CacheEntry; until: number }>();

  constructor(private readonly ttlMs: number) {}

  static id(stageHash: string, generation: number, key: string): string {
    return `${stageHash}\u0000${generation}\u0000${key}`;
  }

  get(id: string, now: number): CacheEntry | undefined {
    const found = this.entries.get(id);
    if (found === undefined) return undefined;
    if (now >= found.until || now >= found.entry.deleteAt) {
      this.entries.delete(id);
      return undefined;
    }
    return found.entry;
  }

  set(id: string, entry: CacheEntry, now: number): void {
    this.entries.delete(id);
    if (this.entries.size >= MAX_LOCAL_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { entry, until: now + this.ttlMs });
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  /** Drops every copy of one stage (after a purge or delete, here or on another node). */
  forgetStage(stageHash: string): void {
    const prefix = `${stageHash}\u0000`;
    for (const id of this.entries.keys()) if (id.startsWith(prefix)) this.entries.delete(id);
  }
}
