/**
 * `store.localCacheMs`: a small in-process copy of recently read or written Redis entries, so a
 * repeated hit costs no Redis round trip. Entries are named by stage hash, generation and key: a
 * flush (a new generation) makes every copy unreachable at once; purges and deletes on any node are
 * announced on pub/sub and drop the stage's copies. A client refresh on another node is seen here
 * within `localCacheMs` (the bound of its staleness). Bounded by count and by bytes; oldest
 * copies go first.
 */
import { entrySize, type CacheEntry } from '../../entry.js';
import { ownedBuffer, ownedString } from '../../owned-string.js';

const MAX_LOCAL_ENTRIES = 10_000;
/**
 * Copies are heap the Redis budget does not see (SPEC §7: a process given budget + 256 MiB never
 * runs out of memory): without a byte bound, 10,000 copies of 1 MB answers would be 10 GB.
 */
export const MAX_LOCAL_BYTES = 32 * 1024 * 1024;

export class LocalEntries {
  private readonly entries = new Map<string, { entry: CacheEntry; until: number; size: number }>();
  private bytes = 0;

  constructor(private readonly ttlMs: number) {}

  static id(stageHash: string, generation: number, key: string): string {
    return `${stageHash}\u0000${generation}\u0000${key}`;
  }

  get(id: string, now: number): CacheEntry | undefined {
    const found = this.entries.get(id);
    if (found === undefined) return undefined;
    if (now >= found.until || now >= found.entry.deleteAt) {
      this.delete(id);
      return undefined;
    }
    return found.entry;
  }

  set(id: string, entry: CacheEntry, now: number): void {
    this.delete(id);
    const size = entrySize(id, entry);
    if (size > MAX_LOCAL_BYTES / 16) return; // one copy never takes more than a sixteenth
    while (this.entries.size > 0 && (this.entries.size >= MAX_LOCAL_ENTRIES || this.bytes + size > MAX_LOCAL_BYTES)) {
      this.delete(this.entries.keys().next().value!);
    }
    // A decoded entry's body is a view into the Redis reply (entry-codec.ts), itself a slice of a
    // socket read or of ioredis's buffer pool: the copy keeps only its own bytes (SPEC §7).
    const body = ownedBuffer(entry.body);
    const owned = body === entry.body ? entry : { ...entry, body };
    this.entries.set(ownedString(id), { entry: owned, until: now + this.ttlMs, size });
    this.bytes += size;
  }

  delete(id: string): void {
    const found = this.entries.get(id);
    if (found === undefined) return;
    this.entries.delete(id);
    this.bytes -= found.size;
  }

  /** Bytes the copies count (entry.ts entrySize). */
  get countedBytes(): number {
    return this.bytes;
  }

  /** Drops every copy of one stage (after a purge or delete, here or on another node). */
  forgetStage(stageHash: string): void {
    const prefix = `${stageHash}\u0000`;
    for (const id of [...this.entries.keys()]) if (id.startsWith(prefix)) this.delete(id);
  }
}
