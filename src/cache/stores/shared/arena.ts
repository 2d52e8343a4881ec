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

/** FNV-1a over bytes, 32 bits: cheap, and the full key is compared on a match anyway. */
export function hashBytes(bytes: Uint8Array, length: number, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  // Signed, as an Int32Array cell reads back; 0 never names a hash (a freed record cannot match).
  return hash | 0 || 1;
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
      target.set(blocks.subarray(start, start + take), targetAt);
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
