/**
 * Throttling buckets shared by the gateway threads of one process (`--workers N` with the memory
 * store, issue 17; SPEC §8: "shared by all workers … on one store"): one fixed-size table of
 * token buckets in a SharedArrayBuffer, made once by the main thread and handed to every thread
 * at its start (ThreadStart.throttleTable). A limit is one bucket for the whole process, whichever
 * thread a connection lands on — exact, not 1/N per thread.
 *
 * Layout: a header (table lock, claim clock, capacity) and SHARED_BUCKETS slots of SLOT_BYTES,
 * each holding its lock, its claim stamp (0: never used), tokens, last refill (ms on the
 * process-wide clock), rate, burst, and the SHA-256 of its identity (api, stage, resource, method
 * and limits — Throttle's bucket key), so two limits never share a bucket: a slot is matched on
 * all 256 bits, not on the hash that places it.
 *
 * A request costs one uncontended lock (an Atomics.compareExchange, released with one
 * Atomics.sub) around the same arithmetic as LocalBucket; finding a bucket (a linear probe under
 * the table lock) happens once per bucket and thread, when Throttle first plans a route.
 *
 * Bound: SHARED_BUCKETS buckets at once (the table never grows). Slots are never emptied, only
 * reused: once no slot is empty, a claim takes over a slot that has been idle for
 * RECLAIM_IDLE_MS and has refilled to its burst — a full bucket nobody used for a minute is the
 * same as a new one, so its owner (which notices the new stamp and claims again) loses nothing.
 * Table full of live buckets: that one identity throttles per thread with 1/N of its limit
 * (shareOf, the pre-table split: the process admits at most the limit plus N−1 tokens of
 * burst), counted in cachegate_throttle_table_full_total and logged — never unthrottled.
 */
import { createHash } from 'node:crypto';
import { lock, unlock } from '../cache/stores/shared/lock.js';
import { LocalBucket, refilledTokens, type Bucket, type ThrottleLimits } from './throttle-bucket.js';
import { shareOf } from './throttle-settings.js';

/**
 * Buckets the table holds: one per (stage, method) with its own limits plus the account bucket,
 * far more than a config sets; 4096 slots take 512 KiB, committed by the OS only as they are used.
 */
export const SHARED_BUCKETS = 4096;
/** A full bucket idle this long may be given to another identity when the table has no empty slot. */
export const RECLAIM_IDLE_MS = 60_000;
/** Claims a bucket makes in one take() before settling for its per-thread share (reclaims racing it). */
const MAX_CLAIMS = 2;

/** Header: Int32 cells, padded to a cache line so no slot shares a line with the table lock. */
const HEADER_BYTES = 64;
const TABLE_LOCK = 0;
/** Source of claim stamps: a slot's stamp changes whenever it is given to an identity. */
const CLAIM_CLOCK = 1;
/** How many slots follow the header (set once, when the buffer is made). */
const CAPACITY = 2;

/**
 * A slot is two cache lines: the first holds everything a take reads and writes (lock, stamp,
 * tokens, refill time, rate, burst), so a take touches one line and threads taking from
 * neighbouring buckets never contend for a line (no false sharing); the second holds the digest,
 * read only by claims.
 */
const SLOT_BYTES = 128;
// Int32 cells of a slot.
const SLOT_LOCK = 0;
const SLOT_STAMP = 1;
const SLOT_DIGEST = 16;
const DIGEST_CELLS = 8;
// Float64 values of a slot (bytes 8–39).
const SLOT_TOKENS = 1;
const SLOT_REFILLED_AT = 2;
const SLOT_RATE = 3;
const SLOT_BURST = 4;

/** The table's memory for `buckets` slots, made once by the thread that starts the others. */
export function createThrottleTable(buckets: number = SHARED_BUCKETS): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(HEADER_BYTES + buckets * SLOT_BYTES);
  new Int32Array(buffer)[CAPACITY] = buckets;
  return buffer;
}

/**
 * Milliseconds on a clock every thread of the process reads alike (performance.now() alone counts
 * from each thread's own origin on some runtimes; timeOrigin + now() is wall-anchored and monotonic
 * within a thread). A thread reading a hair behind the last refill adds nothing (never negative).
 */
export function processClockMs(): number {
  return TIME_ORIGIN + performance.now();
}
const TIME_ORIGIN = performance.timeOrigin;

export interface SharedBucketTableOptions {
  /** Gateway threads serving together: a bucket that finds the table full holds 1/threads of its limit. */
  readonly threads: number;
  /** Called once per bucket that found the table full (metric and log). */
  readonly onFull: (identity: string) => void;
  readonly now?: () => number;
}

/** One thread's view of the shared table. */
export class SharedBucketTable {
  private readonly cells: Int32Array;
  private readonly values: Float64Array;
  readonly capacity: number;
  private readonly now: () => number;

  constructor(buffer: SharedArrayBuffer, private readonly options: SharedBucketTableOptions) {
    this.cells = new Int32Array(buffer);
    this.values = new Float64Array(buffer);
    this.capacity = this.cells[CAPACITY]!;
    this.now = options.now ?? processClockMs;
  }

  /** The process-wide bucket for `identity` (Throttle's bucket key, limits included). */
  bucket(identity: string, limits: ThrottleLimits): Bucket {
    return new TableBucket(this, identityDigest(identity), identity, limits);
  }

  /** A bucket that could not get a slot: its thread's share of the limit, reported once. */
  fallback(identity: string, limits: ThrottleLimits): LocalBucket {
    this.options.onFull(identity);
    return new LocalBucket(shareOf(limits, this.options.threads));
  }

  /**
   * Takes a token from `slot` if it still belongs to the claim `stamp`: true (taken), false
   * (empty), undefined (the slot was reclaimed for another identity: claim again).
   * The critical section is LocalBucket.take's arithmetic, nothing else.
   */
  take(slot: number, stamp: number): boolean | undefined {
    const cell = cellOf(slot);
    const value = valueOf(slot);
    const now = this.now();
    lock(this.cells, cell + SLOT_LOCK);
    if (this.cells[cell + SLOT_STAMP] !== stamp) {
      unlock(this.cells, cell + SLOT_LOCK);
      return undefined;
    }
    // Nothing between lock and unlock can throw: no try/finally on the hot path.
    const tokens = this.refilled(value, now);
    const admitted = tokens >= 1;
    this.values[value + SLOT_TOKENS] = admitted ? tokens - 1 : tokens;
    unlock(this.cells, cell + SLOT_LOCK);
    return admitted;
  }

  /**
   * The slot holding `digest` (a new, full bucket when none does): `{ slot, stamp }`, or undefined
   * when every slot holds a live bucket. Claims are serialised by the table lock, so an identity is
   * never placed twice; slots are never emptied, so the probe for an identity ends at the first
   * empty slot (linear probing without deletions).
   */
  claim(digest: Int32Array, limits: ThrottleLimits): { slot: number; stamp: number } | undefined {
    lock(this.cells, TABLE_LOCK);
    try {
      const home = (digest[0]! >>> 0) % this.capacity;
      for (let i = 0; i < this.capacity; i++) {
        const slot = (home + i) % this.capacity;
        const stamp = Atomics.load(this.cells, cellOf(slot) + SLOT_STAMP);
        if (stamp === 0) return this.occupy(slot, digest, limits);
        if (this.holds(slot, digest)) return { slot, stamp };
      }
      // No empty slot, and not here: take over a stale one, if any.
      for (let i = 0; i < this.capacity; i++) {
        const slot = (home + i) % this.capacity;
        const claimed = this.occupy(slot, digest, limits, true);
        if (claimed) return claimed;
      }
      return undefined;
    } finally {
      unlock(this.cells, TABLE_LOCK);
    }
  }

  /** Gives `slot` to `digest` as a full bucket (only if stale, when `onlyIfStale`), under the slot's lock. */
  private occupy(slot: number, digest: Int32Array, limits: ThrottleLimits, onlyIfStale = false): { slot: number; stamp: number } | undefined {
    const cell = cellOf(slot);
    const value = valueOf(slot);
    const now = this.now();
    lock(this.cells, cell + SLOT_LOCK);
    try {
      if (onlyIfStale && !this.stale(value, now)) return undefined;
      // Stamps are Int32 cells and wrap; 0 stays "never used".
      let stamp = (Atomics.add(this.cells, CLAIM_CLOCK, 1) + 1) | 0;
      if (stamp === 0) stamp = (Atomics.add(this.cells, CLAIM_CLOCK, 1) + 1) | 0;
      this.cells.set(digest, cell + SLOT_DIGEST);
      this.values[value + SLOT_TOKENS] = limits.burstLimit;
      this.values[value + SLOT_REFILLED_AT] = now;
      this.values[value + SLOT_RATE] = limits.rateLimit;
      this.values[value + SLOT_BURST] = limits.burstLimit;
      Atomics.store(this.cells, cell + SLOT_STAMP, stamp);
      return { slot, stamp };
    } finally {
      unlock(this.cells, cell + SLOT_LOCK);
    }
  }

  /** Tokens in the slot now (LocalBucket's refill: rate per second, capped at burst); records the refill. Under the slot's lock. */
  private refilled(value: number, now: number): number {
    const refilledAt = this.values[value + SLOT_REFILLED_AT]!;
    const rate = this.values[value + SLOT_RATE]!;
    const burst = this.values[value + SLOT_BURST]!;
    const tokens = refilledTokens(this.values[value + SLOT_TOKENS]!, now - refilledAt, rate, burst);
    this.values[value + SLOT_REFILLED_AT] = Math.max(now, refilledAt);
    return tokens;
  }

  /** Idle for RECLAIM_IDLE_MS and back at its burst: indistinguishable from a new bucket. Under the slot's lock. */
  private stale(value: number, now: number): boolean {
    const idleMs = now - this.values[value + SLOT_REFILLED_AT]!;
    const burst = this.values[value + SLOT_BURST]!;
    return idleMs >= RECLAIM_IDLE_MS && refilledTokens(this.values[value + SLOT_TOKENS]!, idleMs, this.values[value + SLOT_RATE]!, burst) >= burst;
  }

  /** Whether `slot` holds `digest`: read under the table lock, the only lock digests are written under. */
  private holds(slot: number, digest: Int32Array): boolean {
    const at = cellOf(slot) + SLOT_DIGEST;
    for (let i = 0; i < DIGEST_CELLS; i++) if (this.cells[at + i] !== digest[i]) return false;
    return true;
  }
}

/** A thread's handle on one shared bucket: its slot and claim stamp, or its per-thread share when the table was full. */
class TableBucket implements Bucket {
  private slot = -1;
  private stamp = 0;
  private fallback: LocalBucket | undefined;

  constructor(private readonly table: SharedBucketTable, private readonly digest: Int32Array, private readonly identity: string, private readonly limits: ThrottleLimits) {
    this.claim();
  }

  take(): boolean {
    for (let claims = 0; !this.fallback; claims++) {
      const admitted = this.table.take(this.slot, this.stamp);
      if (admitted !== undefined) return admitted;
      // Our slot went to another identity (we were idle and full): a full bucket again, elsewhere.
      if (claims === MAX_CLAIMS) this.fallback = this.table.fallback(this.identity, this.limits);
      else this.claim();
    }
    return this.fallback.take();
  }

  private claim(): void {
    const claimed = this.table.claim(this.digest, this.limits);
    if (claimed) ({ slot: this.slot, stamp: this.stamp } = claimed);
    else this.fallback = this.table.fallback(this.identity, this.limits);
  }
}

/** Where a slot starts, in Int32 cells and in Float64 values. */
const cellOf = (slot: number) => (HEADER_BYTES + slot * SLOT_BYTES) / 4;
const valueOf = (slot: number) => (HEADER_BYTES + slot * SLOT_BYTES) / 8;

/** The identity's SHA-256 as eight Int32 cells: matched whole, and its first cell places it. */
function identityDigest(identity: string): Int32Array {
  const hash = createHash('sha256').update(identity).digest();
  return new Int32Array(hash.buffer.slice(hash.byteOffset, hash.byteOffset + hash.byteLength));
}
