/**
 * The shared off-heap store: every stage space of every thread in SharedArrayBuffers
 * (layout.ts), behind one lock (lock.ts). Same contract as the heap store (store.ts); the
 * difference is where the bytes live and who can see them: all `worker_threads` of the process
 * attach to the same buffers (SharedStore.attach) and serve one copy of each entry.
 *
 * Readers copy out under the lock. A get copies the entry's bytes into a fresh Buffer while it
 * holds the lock, and reads them after releasing it, so nothing a socket write still reads can
 * be freed, evicted or overwritten by another thread: no torn or reused entry can reach a caller,
 * and no slow reader can pin shared memory (the copy is on that thread's heap and goes when its
 * write does). We chose this over generation checks with reference counts because a count held
 * for a socket write outlives the request when the peer stops reading, and a thread that dies
 * holding counts would leak blocks forever; a 1 KiB copy costs a fraction of a microsecond.
 * The copy is not decoded (stored-entry.ts): its head was serialized when the entry was stored,
 * its times are read in place and its body is a view, so a hit on any of a million keys costs
 * one copy, not a decode into objects.
 *
 * Budgets: per stage accounting in one arena. Each space has its capacity (configureStage) and
 * its own LRU list; an entry costs its blocks plus its record (cost()), so `bytes` is exactly the
 * shared memory the space holds. When the arena itself (or its record table) is full — the sum of
 * capacities can exceed it — the least recently used entry of all spaces goes, counted as its
 * space's eviction.
 *
 * Copies are kept per thread, bounded (KEPT_BUDGET_BYTES): a hit on the same write of an entry
 * (same record, same write number, checked under the lock) returns the thread's earlier copy —
 * immutable heap data, so still never torn — instead of copying again, and a hit on the most
 * recently used entry takes no lock at all (getKnown).
 *
 * Flush is O(1): the space takes a new generation number (unique store-wide) and its LRU list is
 * spliced onto a garbage list; records of old generations never match a lookup, and later writes
 * reclaim them a few at a time (or all they need when the arena is full).
 */
import type { CacheEntry } from '../../entry.js';
import type { CacheStore, StageStats } from '../../store.js';
import { keyTooLong } from '../../limits.js';
import { purgeTags, type PurgeMatch } from '../../tags.js';
import { Arena, hashBytes } from './arena.js';
import {
  allocateBuffers, CONTROL_HASH_KEY_0, CONTROL_HASH_KEY_1, CONTROL_RECORD_BUMP, CONTROL_SEQUENCE, CONTROL_USE_CLOCK, CONTROL_WRITE_CLOCK, RECORD_USED, RECORD_WRITE, CONTROL_GARBAGE, CONTROL_GENERATION, CONTROL_LOCK, RECORD_FIRST_BLOCK,
  RECORD_GENERATION, RECORD_HASH, RECORD_KEY_LENGTH, RECORD_LENGTH, RECORD_NEWER, RECORD_OLDER, RECORD_OVERHEAD_BYTES,
  RECORD_STRIDE, RECORD_TAGS_LENGTH, resolveSizes, SharedStoreViews, STAGE_BYTES, STAGE_CAPACITY,
  STAGE_ENTRIES, STAGE_EVICTIONS, STAGE_EXPIRATIONS, STAGE_FLOAT_STRIDE, STAGE_GENERATION,
  STAGE_INT_STRIDE, STAGE_IN_USE, STAGE_NEWEST, STAGE_OLDEST, type SharedStoreBuffers, type SharedStoreSizes,
} from './layout.js';
import { lock, unlock } from './lock.js';
import { StageDirectory } from './stages.js';
import { decodeTags, encodeStored, StoredEntry } from './stored-entry.js';

export interface SharedStageStats extends StageStats {
  /** Entries dropped because they passed `deleteAt` (not counted in `evictions`). */
  expirations: number;
}

export interface SharedStoreOptions extends Partial<SharedStoreSizes> {
  now?: () => number;
}

/** Per thread: heap of the entries kept for repeated hits (hot keys), and the largest kept. Heap the
 * budget does not count, so it stays a small fixed overhead (SPEC §7: budget + a fixed overhead). */
const KEPT_BUDGET_BYTES = 1024 * 1024;
const KEPT_MAX_ENTRY_BYTES = 256 * 1024;
/**
 * A copy is kept when its entry was last used (read or stored, any thread, any space) fewer than
 * this many uses of the store ago: a hot key, or one of a few hot keys, is; one of thousands read
 * evenly is not.
 */
const KEEP_WITHIN_USES = 64;

/** A thread's copy of one write of an entry (record and write number, as they were under the lock). */
interface Kept {
  readonly record: number;
  readonly write: number;
  readonly entry: StoredEntry;
  readonly size: number;
}

/** Flushed records reclaimed by each write, so garbage drains without a long pause. */
const RECLAIM_PER_WRITE = 16;
/** Records a purge or prune examines per hold of the lock: other threads' hits wait at most this long. */
const WALK_CHUNK = 512;

export class SharedStore implements CacheStore {
  readonly buffers: SharedStoreBuffers;
  private readonly views: SharedStoreViews;
  private readonly arena: Arena;
  private readonly stages: StageDirectory;
  private readonly now: () => number;
  private readonly blockBytes: number;
  private keyBytes = Buffer.allocUnsafeSlow(1024);
  /** The store's hash key (CONTROL_HASH_KEY_*), fixed when the buffers were made. */
  private readonly hashKey0: number;
  private readonly hashKey1: number;
  /**
   * This thread's copies by key, oldest first (Map order). Keyed by the key alone: a copy is used
   * only for its very record and write (both unique store-wide), so the same key in another stage
   * never matches it, and no `stage|key` string is built per hit.
   */
  private readonly kept = new Map<string, Kept>();
  private keptBytes = 0;

  /** A new store with its own buffers. */
  constructor(options: SharedStoreOptions = {}, buffers?: SharedStoreBuffers) {
    this.buffers = buffers ?? allocateBuffers(resolveSizes(options));
    this.views = new SharedStoreViews(this.buffers);
    this.arena = new Arena(this.views);
    this.stages = new StageDirectory(this.views);
    this.now = options.now ?? Date.now;
    this.blockBytes = this.buffers.sizes.blockBytes;
    this.hashKey0 = this.views.control[CONTROL_HASH_KEY_0]!;
    this.hashKey1 = this.views.control[CONTROL_HASH_KEY_1]!;
  }

  /** This thread's handle on a store another thread made (its `buffers`, passed at worker start). */
  static attach(buffers: SharedStoreBuffers, options: { now?: () => number } = {}): SharedStore {
    return new SharedStore(options, buffers);
  }

  get(stage: string, key: string): CacheEntry | undefined {
    // No such key is ever stored (limits.ts): answered before it is encoded into the thread's
    // scratch buffer (which would keep 3 bytes a character) or hashed under the lock.
    if (keyTooLong(key)) return undefined;
    const keyLength = this.encodeKey(key);
    const { control, records, stageInts } = this.views;
    const sequence = Atomics.load(control, CONTROL_SEQUENCE);
    if ((sequence & 1) === 0) {
      const known = this.getKnown(stage, keyLength, key, sequence);
      if (known !== undefined) return known;
    }
    let copy: Buffer;
    let tagsLength: number;
    let known: Kept | undefined;
    let record: number;
    let write: number;
    let hot: boolean;
    lock(control, CONTROL_LOCK);
    try {
      const slot = this.stages.find(stage);
      if (slot === -1) return undefined;
      const generation = stageInts[slot * STAGE_INT_STRIDE + STAGE_GENERATION]!;
      record = this.arena.find(this.hash(keyLength, generation), generation, this.keyBytes, keyLength);
      if (record === -1) return undefined;
      if (this.now() >= this.views.deleteAt[record]!) {
        this.beginChange();
        this.removeLive(slot, record);
        this.views.stageFloats[slot * STAGE_FLOAT_STRIDE + STAGE_EXPIRATIONS]!++;
        this.endChange();
        return undefined;
      }
      const at = record * RECORD_STRIDE;
      // Before touch() makes it the newest: how many reads and stores of the store ago it was last used.
      hot = ((control[CONTROL_USE_CLOCK]! - records[at + RECORD_USED]!) >>> 0) < KEEP_WITHIN_USES;
      this.touch(slot, record);
      write = records[at + RECORD_WRITE]!;
      known = this.kept.get(key);
      if (known !== undefined && known.record === record && known.write === write) return known.entry;
      tagsLength = records[at + RECORD_TAGS_LENGTH]!;
      copy = Buffer.allocUnsafe(records[at + RECORD_LENGTH]! - keyLength);
      this.arena.readChain(records[at + RECORD_FIRST_BLOCK]!, keyLength, copy.length, copy, 0);
    } finally {
      unlock(control, CONTROL_LOCK);
    }
    // Read on this thread's private copy: no lock needed, nothing shared is read.
    const entry = StoredEntry.read(copy, tagsLength);
    // Kept only when read again soon (or replacing this thread's copy of an older write): with many
    // keys read evenly, keeping each copy would only churn the map and promote copies into the old
    // generation for the garbage collector, and almost none would be read again from it.
    if (entry !== undefined && (hot || known !== undefined)) {
      const size = entry.retainedBytes(key);
      if (size <= KEPT_MAX_ENTRY_BYTES) this.keep(key, { record, write, entry, size }, known);
    }
    return entry;
  }

  /**
   * The lock-free hit: this thread's copy of the entry, when the key's record is still that very
   * write, unexpired and already the most recently used of its space (so there is no LRU order
   * to change). Plain reads, validated by the change sequence not having moved
   * (CONTROL_SEQUENCE): any change by another thread in between sends the caller to the locked
   * path. Reads may see half-changed cells, so every index read here is bounded (the probe
   * stops at an empty cell, which always exists: the table is at most half full).
   */
  private getKnown(stage: string, keyLength: number, key: string, sequence: number): CacheEntry | undefined {
    const { records, stageInts } = this.views;
    const slot = this.stages.find(stage);
    if (slot === -1) return undefined;
    const ints = slot * STAGE_INT_STRIDE;
    const generation = stageInts[ints + STAGE_GENERATION]!;
    const record = this.arena.find(this.hash(keyLength, generation), generation, this.keyBytes, keyLength);
    if (record === -1 || stageInts[ints + STAGE_NEWEST] !== record) return undefined;
    const known = this.kept.get(key);
    if (known === undefined || known.record !== record || known.write !== records[record * RECORD_STRIDE + RECORD_WRITE]) return undefined;
    if (this.now() >= this.views.deleteAt[record]!) return undefined;
    return Atomics.load(this.views.control, CONTROL_SEQUENCE) === sequence ? known.entry : undefined;
  }

  private beginChange(): void {
    Atomics.add(this.views.control, CONTROL_SEQUENCE, 1);
  }

  private endChange(): void {
    Atomics.add(this.views.control, CONTROL_SEQUENCE, 1);
  }

  private keep(key: string, kept: Kept, replaced: Kept | undefined): void {
    if (replaced !== undefined) {
      this.kept.delete(key);
      this.keptBytes -= replaced.size;
    }
    this.kept.set(key, kept);
    this.keptBytes += kept.size;
    for (const [oldKey, old] of this.kept) {
      if (this.keptBytes <= KEPT_BUDGET_BYTES) break;
      this.kept.delete(oldKey);
      this.keptBytes -= old.size;
    }
  }

  /** Stores or replaces; a stage never configured stores nothing, nor does a key over MAX_CACHE_KEY_LENGTH. */
  set(stage: string, key: string, entry: CacheEntry): void {
    if (keyTooLong(key)) return;
    const keyLength = this.encodeKey(key);
    const payload = encodeStored(this.keyBytes, keyLength, entry);
    const blocks = this.arena.blocksFor(payload.bytes.length);
    const cost = blocks * this.blockBytes + RECORD_OVERHEAD_BYTES;
    const { control, records, stageInts, stageFloats } = this.views;
    lock(control, CONTROL_LOCK);
    this.beginChange();
    try {
      const slot = this.stages.find(stage);
      if (slot === -1) return;
      const ints = slot * STAGE_INT_STRIDE;
      const floats = slot * STAGE_FLOAT_STRIDE;
      const generation = stageInts[ints + STAGE_GENERATION]!;
      const hash = this.hash(keyLength, generation);
      // The old response is outdated whatever happens next: never serve it after a failed replace.
      const existing = this.arena.find(hash, generation, this.keyBytes, keyLength);
      if (existing !== -1) this.removeLive(slot, existing);
      // Larger than the whole budget or arena (it would evict everything and still not fit), or already dead.
      if (cost > stageFloats[floats + STAGE_CAPACITY]! || blocks > this.views.blockCount || this.now() >= entry.deleteAt) return;
      for (let i = 0; i < RECLAIM_PER_WRITE && control[CONTROL_GARBAGE] !== -1; i++) this.reclaimOne();
      while (stageFloats[floats + STAGE_BYTES]! + cost > stageFloats[floats + STAGE_CAPACITY]! && stageInts[ints + STAGE_OLDEST] !== -1) {
        this.evictOldest(slot);
      }
      if (!this.makeArenaRoom(blocks)) return;
      const record = this.arena.takeRecord();
      const first = this.arena.takeBlocks(blocks);
      this.arena.writeChain(first, payload.bytes);
      const at = record * RECORD_STRIDE;
      records[at + RECORD_HASH] = hash;
      records[at + RECORD_GENERATION] = generation;
      records[at + RECORD_FIRST_BLOCK] = first;
      records[at + RECORD_LENGTH] = payload.bytes.length;
      records[at + RECORD_KEY_LENGTH] = keyLength;
      records[at + RECORD_TAGS_LENGTH] = payload.tagsLength;
      records[at + RECORD_WRITE] = control[CONTROL_WRITE_CLOCK] = (control[CONTROL_WRITE_CLOCK]! + 1) | 0;
      this.views.deleteAt[record] = entry.deleteAt;
      this.arena.insert(record, hash);
      this.pushNewest(slot, record);
      stageFloats[floats + STAGE_BYTES] = stageFloats[floats + STAGE_BYTES]! + cost;
      stageInts[ints + STAGE_ENTRIES]!++;
    } finally {
      this.endChange();
      unlock(control, CONTROL_LOCK);
    }
  }

  delete(stage: string, key: string): void {
    if (keyTooLong(key)) return;
    const keyLength = this.encodeKey(key);
    this.locked(() => {
      const slot = this.stages.find(stage);
      if (slot === -1) return;
      const generation = this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_GENERATION]!;
      const record = this.arena.find(this.hash(keyLength, generation), generation, this.keyBytes, keyLength);
      if (record !== -1) this.removeLive(slot, record);
    });
  }

  flush(stage: string): void {
    this.locked(() => {
      const slot = this.stages.find(stage);
      if (slot !== -1) this.startEmpty(slot);
    });
  }

  /**
   * Creates a space, or resizes one: a new capacity starts empty (AWS: a new cache cluster).
   * When every slot (maxStages) is taken the space is not created (stats() stays undefined) and
   * nothing is thrown, because plug-in spaces are created on a request's path: such a space
   * stores nothing and its requests are served from the integration.
   */
  configureStage(stage: string, capacityBytes: number): void {
    this.locked(() => {
      let slot = this.stages.find(stage);
      const floats = () => slot * STAGE_FLOAT_STRIDE;
      if (slot === -1) {
        slot = this.stages.create(stage);
        if (slot === -1) return;
        const ints = slot * STAGE_INT_STRIDE;
        this.views.stageInts[ints + STAGE_NEWEST] = -1;
        this.views.stageInts[ints + STAGE_OLDEST] = -1;
        this.views.stageFloats.fill(0, floats(), floats() + STAGE_FLOAT_STRIDE);
        this.startEmpty(slot);
      } else if (this.views.stageFloats[floats() + STAGE_CAPACITY] !== capacityBytes) {
        this.startEmpty(slot);
      }
      this.views.stageFloats[floats() + STAGE_CAPACITY] = capacityBytes;
    });
  }

  dropStage(stage: string): void {
    this.locked(() => {
      const slot = this.stages.find(stage);
      if (slot === -1) return;
      this.startEmpty(slot);
      this.stages.release(slot);
    });
  }

  stats(stage: string): SharedStageStats | undefined {
    return this.locked(() => {
      const slot = this.stages.find(stage);
      if (slot === -1) return undefined;
      const floats = slot * STAGE_FLOAT_STRIDE;
      const { stageFloats } = this.views;
      return {
        entries: this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_ENTRIES]!,
        bytes: stageFloats[floats + STAGE_BYTES]!,
        capacityBytes: stageFloats[floats + STAGE_CAPACITY]!,
        evictions: stageFloats[floats + STAGE_EVICTIONS]!,
        expirations: stageFloats[floats + STAGE_EXPIRATIONS]!,
      };
    }, true);
  }

  /**
   * Removes the space's entries carrying any wanted tag (path prefixes are path tags, tags.ts).
   * A walk of the records in chunks, releasing the lock between chunks: an admin operation that
   * must not stall every thread's hits for the length of a million-entry walk.
   */
  purge(stage: string, match: PurgeMatch): number {
    const wanted = new Set(purgeTags(match));
    if (wanted.size === 0) return 0;
    let purged = 0;
    this.walk(stage, (slot, record) => {
      const tagsLength = this.views.records[record * RECORD_STRIDE + RECORD_TAGS_LENGTH]!;
      if (tagsLength === 0) return;
      const section = Buffer.allocUnsafe(tagsLength);
      this.arena.readChain(this.views.records[record * RECORD_STRIDE + RECORD_FIRST_BLOCK]!, this.views.records[record * RECORD_STRIDE + RECORD_KEY_LENGTH]!, tagsLength, section, 0);
      if (!decodeTags(section, tagsLength).some((tag) => wanted.has(tag))) return;
      // An entry already past deleteAt was gone for callers: it leaves as an expiration.
      if (this.now() >= this.views.deleteAt[record]!) this.views.stageFloats[slot * STAGE_FLOAT_STRIDE + STAGE_EXPIRATIONS]!++;
      else purged++;
      this.removeLive(slot, record);
    });
    return purged;
  }

  /** Drops every entry past its deleteAt (a walk, for spaces that never evict). */
  pruneExpired(stage: string): void {
    this.walk(stage, (slot, record) => {
      if (this.now() < this.views.deleteAt[record]!) return;
      this.removeLive(slot, record);
      this.views.stageFloats[slot * STAGE_FLOAT_STRIDE + STAGE_EXPIRATIONS]!++;
    });
  }

  /** Nothing to release per thread: the buffers go when the last thread holding them drops them. */
  close(): void {}

  private walk(stage: string, visit: (slot: number, record: number) => void): void {
    const { records, control, stageInts } = this.views;
    for (let start = 0; ; start += WALK_CHUNK) {
      const more = this.locked(() => {
        const slot = this.stages.find(stage);
        const end = control[CONTROL_RECORD_BUMP]!;
        if (slot === -1 || start >= end) return false;
        const generation = stageInts[slot * STAGE_INT_STRIDE + STAGE_GENERATION]!;
        for (let record = start; record < Math.min(end, start + WALK_CHUNK); record++) {
          if (records[record * RECORD_STRIDE + RECORD_GENERATION] === generation) visit(slot, record);
        }
        return true;
      });
      if (!more) return;
    }
  }

  /** Runs `work` under the lock, as a change (see CONTROL_SEQUENCE) unless `reading`. */
  private locked<T>(work: () => T, reading = false): T {
    lock(this.views.control, CONTROL_LOCK);
    if (!reading) this.beginChange();
    try {
      return work();
    } finally {
      if (!reading) this.endChange();
      unlock(this.views.control, CONTROL_LOCK);
    }
  }

  /** The key in the scratch buffer hashed for a space's generation (keyed: see arena.ts keyedHash). */
  private hash(keyLength: number, generation: number): number {
    return hashBytes(this.keyBytes, keyLength, this.hashKey0 ^ generation, this.hashKey1);
  }

  /**
   * The key's bytes into this thread's scratch buffer; returns their length. UTF-8 for a
   * well-formed key; a key with a lone surrogate (which UTF-8 would turn into U+FFFD, giving two
   * keys one entry) is 0xFF — never a byte of UTF-8, so no well-formed key's spelling — then UTF-16LE.
   */
  private encodeKey(key: string): number {
    if (key.length * 3 + 1 > this.keyBytes.length) this.keyBytes = Buffer.allocUnsafeSlow(key.length * 3 + 1);
    if ((key as string & { isWellFormed(): boolean }).isWellFormed()) return this.keyBytes.write(key, 0, 'utf8');
    this.keyBytes[0] = 0xff;
    return 1 + this.keyBytes.write(key, 1, 'utf16le');
  }

  private cost(record: number): number {
    return this.arena.blocksFor(this.views.records[record * RECORD_STRIDE + RECORD_LENGTH]!) * this.blockBytes + RECORD_OVERHEAD_BYTES;
  }

  /** A new generation, an empty list; the old list becomes garbage in O(1). */
  private startEmpty(slot: number): void {
    const { control, records, stageInts, stageFloats } = this.views;
    const ints = slot * STAGE_INT_STRIDE;
    const newest = stageInts[ints + STAGE_NEWEST]!;
    if (newest !== -1) {
      records[stageInts[ints + STAGE_OLDEST]! * RECORD_STRIDE + RECORD_OLDER] = control[CONTROL_GARBAGE]!;
      control[CONTROL_GARBAGE] = newest;
    }
    stageInts[ints + STAGE_GENERATION] = ++control[CONTROL_GENERATION]!;
    stageInts[ints + STAGE_NEWEST] = -1;
    stageInts[ints + STAGE_OLDEST] = -1;
    stageInts[ints + STAGE_ENTRIES] = 0;
    stageFloats[slot * STAGE_FLOAT_STRIDE + STAGE_BYTES] = 0;
  }

  private reclaimOne(): void {
    const { control, records } = this.views;
    const record = control[CONTROL_GARBAGE]!;
    control[CONTROL_GARBAGE] = records[record * RECORD_STRIDE + RECORD_OLDER]!;
    this.arena.remove(record);
    this.arena.releaseRecord(record);
  }

  /**
   * Frees arena blocks and a record for a new entry: flushed garbage first, then the least recently
   * used entry of any space (each space's oldest entry compared on the use clock), so a space that
   * fills the arena gives way to one that is busier now. False when nothing is left to free.
   */
  private makeArenaRoom(blocks: number): boolean {
    const { control, records, stageInts } = this.views;
    while (!this.arena.hasFreeRecord() || this.arena.freeBlocks() < blocks) {
      if (control[CONTROL_GARBAGE] !== -1) {
        this.reclaimOne();
        continue;
      }
      const clock = control[CONTROL_USE_CLOCK]!;
      let victim = -1;
      let victimAge = -1;
      const slots = this.stages.claimedSlots();
      for (let slot = 0; slot < slots; slot++) {
        const ints = slot * STAGE_INT_STRIDE;
        const oldest = stageInts[ints + STAGE_OLDEST]!;
        if (stageInts[ints + STAGE_IN_USE] !== 1 || oldest === -1) continue;
        // Ages are differences on a wrapping 32-bit clock, so the comparison survives the wrap.
        const age = (clock - records[oldest * RECORD_STRIDE + RECORD_USED]!) >>> 0;
        if (age > victimAge) {
          victim = slot;
          victimAge = age;
        }
      }
      if (victim === -1) return false;
      this.evictOldest(victim);
    }
    return true;
  }

  private evictOldest(slot: number): void {
    const record = this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_OLDEST]!;
    // An entry past deleteAt leaving is an expiration, not an eviction.
    const counter = this.now() >= this.views.deleteAt[record]! ? STAGE_EXPIRATIONS : STAGE_EVICTIONS;
    this.views.stageFloats[slot * STAGE_FLOAT_STRIDE + counter]!++;
    this.removeLive(slot, record);
  }

  private removeLive(slot: number, record: number): void {
    const floats = slot * STAGE_FLOAT_STRIDE;
    this.unlink(slot, record);
    this.views.stageFloats[floats + STAGE_BYTES] = this.views.stageFloats[floats + STAGE_BYTES]! - this.cost(record);
    this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_ENTRIES]!--;
    this.arena.remove(record);
    this.arena.releaseRecord(record);
  }

  private touch(slot: number, record: number): void {
    if (this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_NEWEST] === record) return;
    this.unlink(slot, record);
    this.pushNewest(slot, record);
  }

  private unlink(slot: number, record: number): void {
    const { records, stageInts } = this.views;
    const at = record * RECORD_STRIDE;
    const ints = slot * STAGE_INT_STRIDE;
    const newer = records[at + RECORD_NEWER]!;
    const older = records[at + RECORD_OLDER]!;
    if (newer !== -1) records[newer * RECORD_STRIDE + RECORD_OLDER] = older;
    else stageInts[ints + STAGE_NEWEST] = older;
    if (older !== -1) records[older * RECORD_STRIDE + RECORD_NEWER] = newer;
    else stageInts[ints + STAGE_OLDEST] = newer;
  }

  private pushNewest(slot: number, record: number): void {
    const { records, stageInts } = this.views;
    const at = record * RECORD_STRIDE;
    const ints = slot * STAGE_INT_STRIDE;
    const newest = stageInts[ints + STAGE_NEWEST]!;
    records[at + RECORD_USED] = this.views.control[CONTROL_USE_CLOCK] = (this.views.control[CONTROL_USE_CLOCK]! + 1) | 0;
    records[at + RECORD_NEWER] = -1;
    records[at + RECORD_OLDER] = newest;
    if (newest !== -1) records[newest * RECORD_STRIDE + RECORD_NEWER] = record;
    else stageInts[ints + STAGE_OLDEST] = record;
    stageInts[ints + STAGE_NEWEST] = record;
  }
}
