/**
 * The shared store's data structure: records, the hash table over them and the chained data
 * blocks. Every method here assumes the caller holds the store lock (shared-store.ts); nothing
 * here knows about stages' budgets or LRU order.
 *
 * Stored bytes of an entry: key (UTF-8) | tags section | encoded entry (entry-codec.ts). The
 * record keeps the key's hash and length, so a probe compares full key bytes only on a hash match.
 */
import {
  CONTROL_BLOCK_BUMP, CONTROL_FREE_BLOCK, CONTROL_FREE_BLOCKS, CONTROL_FREE_RECORD, CONTROL_RECORD_BUMP,
  RECORD_FIRST_BLOCK, RECORD_GENERATION, RECORD_HASH, RECORD_KEY_LENGTH, RECORD_LENGTH, RECORD_OLDER, RECORD_STRIDE,
  type SharedStoreViews,
} from './layout.js';

/**
 * HalfSipHash-c-d (Aumasson & Bernstein, the 32-bit SipHash of their reference implementation and
 * of Linux's hsiphash) of bytes[0..length) under the 64-bit key (k0, k1): a keyed hash, so
 * nobody who does not know the store's key (CONTROL_HASH_KEY_*, random per store) can pick keys
 * that collide. FNV-1a, used before, is public: an outsider crafted thousands of keys with one
 * home cell and every probe walked them (test/security/offheap-store.test.ts). c = 1, d = 3 as
 * hsiphash; the reference 2-4 is checked against its published vectors in the same test.
 */
export function keyedHash(bytes: Uint8Array, length: number, k0: number, k1: number, c = 1, d = 3): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = length - (length & 3);
  // Whole 4-byte words (little-endian), then one last word: the tail bytes and the length's low byte on top.
  for (let i = 0; i <= end; i += 4) {
    let m: number;
    if (i < end) {
      m = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    } else {
      m = length << 24;
      const left = length & 3;
      if (left >= 3) m |= bytes[i + 2]! << 16;
      if (left >= 2) m |= bytes[i + 1]! << 8;
      if (left >= 1) m |= bytes[i]!;
    }
    v3 ^= m;
    for (let r = 0; r < c; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < d; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return v1 ^ v3;
}

/** A key's hash as the records keep it: signed (as an Int32Array cell reads back) and never 0 (a freed record cannot match). */
export function hashBytes(bytes: Uint8Array, length: number, k0: number, k1: number): number {
  return keyedHash(bytes, length, k0, k1) | 0 || 1;
}

export class Arena {
  private readonly blockBytes: number;

  constructor(private readonly views: SharedStoreViews) {
    this.blockBytes = views.buffers.sizes.blockBytes;
  }

  blocksFor(length: number): number {
    return Math.max(1, Math.ceil(length / this.blockBytes));
  }

  freeBlocks(): number {
    const { control, blockCount } = this.views;
    return control[CONTROL_FREE_BLOCKS]! + (blockCount - control[CONTROL_BLOCK_BUMP]!);
  }

  hasFreeRecord(): boolean {
    const { control } = this.views;
    return control[CONTROL_FREE_RECORD] !== -1 || control[CONTROL_RECORD_BUMP]! < this.views.buffers.sizes.maxEntries;
  }

  /** A record (caller checked hasFreeRecord()). */
  takeRecord(): number {
    const { control, records } = this.views;
    const free = control[CONTROL_FREE_RECORD]!;
    if (free !== -1) {
      control[CONTROL_FREE_RECORD] = records[free * RECORD_STRIDE + RECORD_OLDER]!;
      return free;
    }
    return control[CONTROL_RECORD_BUMP]!++;
  }

  /** Returns a record (already out of the table and of any list) and its blocks. */
  releaseRecord(record: number): void {
    const { control, records } = this.views;
    const at = record * RECORD_STRIDE;
    this.releaseBlocks(records[at + RECORD_FIRST_BLOCK]!, this.blocksFor(records[at + RECORD_LENGTH]!));
    records[at + RECORD_GENERATION] = 0;
    records[at + RECORD_HASH] = 0;
    records[at + RECORD_OLDER] = control[CONTROL_FREE_RECORD]!;
    control[CONTROL_FREE_RECORD] = record;
  }

  /**
   * A chain of `count` blocks (caller checked freeBlocks()). Freed blocks are reused first, so
   * touched pages are reused before new ones are committed; a freed chain comes back in order,
   * so an entry rewritten in the same place is contiguous again.
   */
  takeBlocks(count: number): number {
    const { control, nextBlock } = this.views;
    let first = -1;
    let last = -1;
    for (let i = 0; i < count; i++) {
      let block = control[CONTROL_FREE_BLOCK]!;
      if (block !== -1) {
        control[CONTROL_FREE_BLOCK] = nextBlock[block]!;
        control[CONTROL_FREE_BLOCKS]!--;
      } else {
        block = control[CONTROL_BLOCK_BUMP]!++;
      }
      if (last === -1) first = block;
      else nextBlock[last] = block;
      last = block;
    }
    nextBlock[last] = -1;
    return first;
  }

  private releaseBlocks(first: number, count: number): void {
    const { control, nextBlock } = this.views;
    let last = first;
    for (let i = 1; i < count; i++) last = nextBlock[last]!;
    nextBlock[last] = control[CONTROL_FREE_BLOCK]!;
    control[CONTROL_FREE_BLOCK] = first;
    control[CONTROL_FREE_BLOCKS] = control[CONTROL_FREE_BLOCKS]! + count;
  }

  /** Copies `source` into the chain starting at `first`. */
  writeChain(first: number, source: Buffer): void {
    const { blocks, nextBlock } = this.views;
    const size = this.blockBytes;
    let block = first;
    for (let at = 0; at < source.length; at += size) {
      source.copy(blocks, block * size, at, Math.min(at + size, source.length));
      block = nextBlock[block]!;
    }
  }

  /**
   * Copies bytes [from, from + length) of a chain into `target` at `targetAt`. Runs of
   * consecutive blocks (the usual case) go in one copy.
   */
  readChain(first: number, from: number, length: number, target: Uint8Array, targetAt: number): void {
    const { blocks, nextBlock } = this.views;
    const size = this.blockBytes;
    let block = first;
    let skip = Math.floor(from / size);
    while (skip-- > 0) block = nextBlock[block]!;
    let offset = from % size;
    let left = length;
    while (left > 0) {
      // Extend the run while the chain is contiguous.
      const runStart = block;
      let runBytes = size - offset;
      while (runBytes < left && nextBlock[block] === block + 1) {
        block++;
        runBytes += size;
      }
      const take = Math.min(runBytes, left);
      const start = runStart * size + offset;
      // Buffer#copy: no view object per run (subarray() made one on every read).
      blocks.copy(target, targetAt, start, start + take);
      targetAt += take;
      left -= take;
      offset = 0;
      block = nextBlock[block]!;
    }
  }

  /** Whether the record's stored key equals `key[0..keyLength)`. */
  keyEquals(record: number, key: Uint8Array, keyLength: number): boolean {
    const { records, blocks, nextBlock } = this.views;
    const at = record * RECORD_STRIDE;
    if (records[at + RECORD_KEY_LENGTH] !== keyLength) return false;
    const size = this.blockBytes;
    let block = records[at + RECORD_FIRST_BLOCK]!;
    let base = block * size;
    for (let i = 0, inBlock = 0; i < keyLength; i++, inBlock++) {
      if (inBlock === size) {
        block = nextBlock[block]!;
        base = block * size;
        inBlock = 0;
      }
      if (blocks[base + inBlock] !== key[i]) return false;
    }
    return true;
  }

  /** The live record of `generation` under this key, or -1. Stale generations are skipped, not matched. */
  find(hash: number, generation: number, key: Uint8Array, keyLength: number): number {
    const { table, tableMask, records } = this.views;
    for (let slot = hash & tableMask; ; slot = (slot + 1) & tableMask) {
      const cell = table[slot]!;
      if (cell === 0) return -1;
      const record = cell - 1;
      const at = record * RECORD_STRIDE;
      if (records[at + RECORD_HASH] === hash && records[at + RECORD_GENERATION] === generation && this.keyEquals(record, key, keyLength)) return record;
    }
  }

  insert(record: number, hash: number): void {
    const { table, tableMask } = this.views;
    let slot = hash & tableMask;
    while (table[slot] !== 0) slot = (slot + 1) & tableMask;
    table[slot] = record + 1;
  }

  /** Takes a record out of the table: backward-shift deletion, so probes never need tombstones. */
  remove(record: number): void {
    const { table, tableMask, records } = this.views;
    let slot = records[record * RECORD_STRIDE + RECORD_HASH]! & tableMask;
    while (table[slot] !== record + 1) {
      if (table[slot] === 0) return; // not in the table
      slot = (slot + 1) & tableMask;
    }
    let hole = slot;
    for (let next = (hole + 1) & tableMask; table[next] !== 0; next = (next + 1) & tableMask) {
      const home = records[(table[next]! - 1) * RECORD_STRIDE + RECORD_HASH]! & tableMask;
      // Move the cell back into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        table[hole] = table[next]!;
        hole = next;
      }
    }
    table[hole] = 0;
  }
}
