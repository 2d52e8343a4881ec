/**
 * Where the shared store keeps everything: a handful of SharedArrayBuffers, made once by the
 * thread that starts the gateway and handed to every other thread at its start (structured
 * clone shares, never copies, a SharedArrayBuffer). Nothing here lives on a JavaScript heap, so
 * the garbage collector walks no entries, and every byte an entry holds is counted (see cost()).
 *
 * - control: the lock, allocator heads and global counters (CONTROL_* below).
 * - stages: one slot per stage space: name, generation, LRU ends, budget and counters.
 * - records: one per entry (RECORD_* fields) plus its deleteAt; free records form a stack.
 * - table: open-addressing hash table of record numbers + 1 (0 = empty), linear probing.
 * - blocks: entry bytes in fixed-size blocks chained through `nextBlock`, so any freed block
 *   fits any new entry (no external fragmentation; the waste is under one block per entry).
 * - leases: which thread is filling which key (leases.ts), apart from the store's lock.
 *
 * Pages of a SharedArrayBuffer are committed by the OS only when first written, so a large
 * arena costs address space, not memory, until it fills.
 */

import { randomBytes } from 'node:crypto';
import { allocateLeases } from './leases.js';

export interface SharedStoreSizes {
  /** Bytes of entry data (keys, tags, heads, bodies) the whole store can hold, all stages together. */
  readonly arenaBytes: number;
  /** Size of one data block; an entry wastes less than one block. */
  readonly blockBytes: number;
  /** Entries the store can index, all stages together. */
  readonly maxEntries: number;
  /** Stage spaces that can exist at once. */
  readonly maxStages: number;
}

export const DEFAULT_BLOCK_BYTES = 128;
/** Under 4 GiB: a typed array over one SharedArrayBuffer is limited to 2^32 bytes on Node 20. */
export const MAX_ARENA_BYTES = 2 ** 32 - 2 ** 20;
/** Stage caches plus Alibaba plug-in spaces (one per plug-in and app on a stage). */
export const DEFAULT_MAX_STAGES = 4096;
/** Longest stage space name (stageId(apiId, stage)) in UTF-8 bytes. */
export const MAX_STAGE_NAME_BYTES = 512;

export const CONTROL_LOCK = 0;
/** Source of generation numbers: unique across stages and flushes, so a record's generation names its space incarnation. */
export const CONTROL_GENERATION = 1;
export const CONTROL_FREE_RECORD = 2;
export const CONTROL_RECORD_BUMP = 3;
export const CONTROL_FREE_BLOCK = 4;
export const CONTROL_FREE_BLOCKS = 5;
export const CONTROL_BLOCK_BUMP = 6;
/** Records of flushed spaces, reclaimed a few at a time by later writes (flush stays O(1)). */
export const CONTROL_GARBAGE = 7;
/** Counts stores and reads (wrapping at 2^32): compares how recently the oldest entries of two stages were used. */
export const CONTROL_USE_CLOCK = 9;
export const CONTROL_WRITE_CLOCK = 10;
/**
 * Odd while a thread changes the index or data (a set, delete, eviction, flush, purge), bumped
 * again when it is done: a reader that saw the same even value before and after its reads read
 * a consistent store without taking the lock (a seqlock; see SharedStore.getKnown).
 */
export const CONTROL_SEQUENCE = 11;
/**
 * The 64-bit key of the index's hash (arena.ts keyedHash), random per store and set once when the
 * buffers are made: keys an outsider picks cannot be made to collide (hash flooding).
 */
export const CONTROL_HASH_KEY_0 = 12;
export const CONTROL_HASH_KEY_1 = 13;
/**
 * Stage slots ever claimed (one past the highest): scans over the stage slots (the arena's LRU
 * victim across spaces, a name lookup) stop here instead of at maxStages (4096 by default), which
 * made each eviction of a full arena cost thousands of empty slots under the lock.
 */
export const CONTROL_STAGE_SLOTS = 14;
const CONTROL_CELLS = 16;

// Record fields (Int32 cells, RECORD_STRIDE per record).
export const RECORD_HASH = 0;
/** The generation of the space the entry was stored in (unique store-wide, so it names the space too). */
export const RECORD_GENERATION = 1;
export const RECORD_FIRST_BLOCK = 2;
/** Bytes stored: key, tags section, encoded entry. */
export const RECORD_LENGTH = 3;
export const RECORD_KEY_LENGTH = 4;
export const RECORD_TAGS_LENGTH = 5;
/** LRU links (towards the newest / oldest end); OLDER also links free and garbage records. */
export const RECORD_NEWER = 6;
export const RECORD_OLDER = 7;
/** When the entry was last stored or read, on the store's use clock (CONTROL_USE_CLOCK): LRU across stages. */
export const RECORD_USED = 8;
/** Which write this is (CONTROL_WRITE_CLOCK): lets a thread reuse its decoded copy of the very same write. */
export const RECORD_WRITE = 9;
export const RECORD_STRIDE = 10;

// Stage slot fields: Int32 cells…
export const STAGE_EPOCH = 0;
export const STAGE_IN_USE = 1;
export const STAGE_GENERATION = 2;
export const STAGE_NEWEST = 3;
export const STAGE_OLDEST = 4;
export const STAGE_ENTRIES = 5;
export const STAGE_NAME_LENGTH = 6;
export const STAGE_NAME_HASH = 7;
export const STAGE_INT_STRIDE = 8;
// …and Float64 cells (byte counts can pass 2^31).
export const STAGE_CAPACITY = 0;
export const STAGE_BYTES = 1;
export const STAGE_EVICTIONS = 2;
export const STAGE_EXPIRATIONS = 3;
export const STAGE_FLOAT_STRIDE = 4;

/** What one entry costs beyond its blocks: its record, deleteAt and two hash-table cells. */
export const RECORD_OVERHEAD_BYTES = RECORD_STRIDE * 4 + 8 + 2 * 4;

/** The buffers themselves: what a thread passes to another (postMessage / workerData). */
export interface SharedStoreBuffers {
  readonly sizes: SharedStoreSizes;
  readonly control: SharedArrayBuffer;
  readonly stageInts: SharedArrayBuffer;
  readonly stageFloats: SharedArrayBuffer;
  readonly stageNames: SharedArrayBuffer;
  readonly records: SharedArrayBuffer;
  readonly deleteAt: SharedArrayBuffer;
  readonly table: SharedArrayBuffer;
  readonly blocks: SharedArrayBuffer;
  readonly nextBlock: SharedArrayBuffer;
  /** Cross-thread fill leases (leases.ts): one integration call per key across the threads. */
  readonly leases: SharedArrayBuffer;
}

/** Typed views of the buffers, one set per thread. */
export class SharedStoreViews {
  readonly control: Int32Array;
  readonly stageInts: Int32Array;
  readonly stageFloats: Float64Array;
  readonly stageNames: Uint8Array;
  readonly records: Int32Array;
  readonly deleteAt: Float64Array;
  readonly table: Int32Array;
  /** tableSize - 1 (the table size is a power of two). */
  readonly tableMask: number;
  readonly blocks: Buffer;
  readonly nextBlock: Int32Array;
  readonly blockCount: number;

  constructor(readonly buffers: SharedStoreBuffers) {
    this.control = new Int32Array(buffers.control);
    this.stageInts = new Int32Array(buffers.stageInts);
    this.stageFloats = new Float64Array(buffers.stageFloats);
    this.stageNames = new Uint8Array(buffers.stageNames);
    this.records = new Int32Array(buffers.records);
    this.deleteAt = new Float64Array(buffers.deleteAt);
    this.table = new Int32Array(buffers.table);
    this.tableMask = this.table.length - 1;
    this.blocks = Buffer.from(buffers.blocks);
    this.nextBlock = new Int32Array(buffers.nextBlock);
    this.blockCount = this.nextBlock.length;
  }
}

/** Checks sizes and fills the defaults; a clear error for anything that cannot be built. */
export function resolveSizes(requested: Partial<SharedStoreSizes> = {}): SharedStoreSizes {
  const blockBytes = requested.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isInteger(blockBytes) || blockBytes < 16 || blockBytes > 65_536) throw new RangeError(`shared store: blockBytes must be 16..65536, got ${blockBytes}`);
  const arenaBytes = Math.floor((requested.arenaBytes ?? MAX_ARENA_BYTES) / blockBytes) * blockBytes;
  if (!(arenaBytes >= blockBytes) || arenaBytes > MAX_ARENA_BYTES) throw new RangeError(`shared store: arenaBytes must be ${blockBytes}..${MAX_ARENA_BYTES}, got ${requested.arenaBytes}`);
  // As many records as the arena can hold of the smallest entries (one block plus its record), so the
  // count never binds before the bytes: with one record per KiB, tiny entries in one stage (within its
  // budget) used up the store-wide records and evicted other stages' entries (test/security/offheap-store).
  // Records, deleteAt and table cost ≤ 72 B per record, committed as used (the table as it spreads).
  const maxEntries = requested.maxEntries ?? Math.max(1024, Math.min(2 ** 26, Math.floor(arenaBytes / (blockBytes + RECORD_OVERHEAD_BYTES))));
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 2 ** 26) throw new RangeError(`shared store: maxEntries must be 1..${2 ** 26}, got ${maxEntries}`);
  const maxStages = requested.maxStages ?? DEFAULT_MAX_STAGES;
  if (!Number.isInteger(maxStages) || maxStages < 1 || maxStages > 65_536) throw new RangeError(`shared store: maxStages must be 1..65536, got ${maxStages}`);
  return { arenaBytes, blockBytes, maxEntries, maxStages };
}

export function allocateBuffers(sizes: SharedStoreSizes): SharedStoreBuffers {
  let tableSize = 1;
  while (tableSize < sizes.maxEntries * 2) tableSize *= 2;
  const blockCount = sizes.arenaBytes / sizes.blockBytes;
  const buffers: SharedStoreBuffers = {
    sizes,
    control: new SharedArrayBuffer(CONTROL_CELLS * 4),
    stageInts: new SharedArrayBuffer(sizes.maxStages * STAGE_INT_STRIDE * 4),
    stageFloats: new SharedArrayBuffer(sizes.maxStages * STAGE_FLOAT_STRIDE * 8),
    stageNames: new SharedArrayBuffer(sizes.maxStages * MAX_STAGE_NAME_BYTES),
    records: new SharedArrayBuffer(sizes.maxEntries * RECORD_STRIDE * 4),
    deleteAt: new SharedArrayBuffer(sizes.maxEntries * 8),
    table: new SharedArrayBuffer(tableSize * 4),
    blocks: new SharedArrayBuffer(sizes.arenaBytes),
    nextBlock: new SharedArrayBuffer(blockCount * 4),
    leases: allocateLeases(),
  };
  const control = new Int32Array(buffers.control);
  control[CONTROL_FREE_RECORD] = -1;
  control[CONTROL_FREE_BLOCK] = -1;
  control[CONTROL_GARBAGE] = -1;
  const hashKey = randomBytes(8);
  control[CONTROL_HASH_KEY_0] = hashKey.readInt32LE(0);
  control[CONTROL_HASH_KEY_1] = hashKey.readInt32LE(4);
  return buffers;
}
