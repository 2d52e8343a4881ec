/**
 * Cross-thread fill leases (issue 17): with `--workers N` the threads share one store, and a miss
 * that finds no flight on its own thread first takes the key's lease here, so concurrent misses of
 * one key on different threads make one integration call, as they do on one thread
 * (coalescing.ts). A thread that finds the lease held by another waits for its release — bounded
 * by its own deadline and by the lease's expiry — and then reads the store again.
 *
 * A fixed table of LEASE_SLOTS slots in one SharedArrayBuffer, open addressing over at most
 * LEASE_PROBES slots from the key's hash. Each slot holds the key's 64-bit keyed hash (arena.ts
 * keyedHash, random key per table: keys an outsider picks cannot be made to collide), the owner
 * thread, the lease number and its expiry, and one word threads wait on (Atomics.waitAsync):
 * the lease number while filling, then minus the outcome once released. Taking and releasing
 * happen under one short lock (lock.ts); waiting does not hold it.
 *
 * Bounds: when every probed slot holds a live lease of another key, the caller gets no lease and
 * calls alone — a full or colliding table costs cross-thread coalescing, never a wait on an
 * unrelated key. A lease not released by its expiry — the leader's own deadline, or once its
 * integration answered a timeout from then (its thread died, or its body is still coming) —
 * counts as free: waiters stop waiting, and the next miss takes it.
 */
import { randomBytes } from 'node:crypto';
import { keyedHash } from './arena.js';
import { lock, unlock } from './lock.js';

/** Fills under way at once across threads that can coalesce (144 KiB of shared memory). */
export const LEASE_SLOTS = 4096;
/** Slots a key may use: a take or lookup reads at most this many, under the lock. */
export const LEASE_PROBES = 8;

/**
 * How a released lease ended, for the threads that waited on it. `own`: answered, but the answer
 * was its caller's own (chosen by that request's headers): it says nothing about the key, so no
 * thread marks the key hit-for-pass for it.
 */
export type LeaseOutcome = 'shared' | 'unshareable' | 'own' | 'failed-stale' | 'failed';
const OUTCOMES: readonly LeaseOutcome[] = ['shared', 'unshareable', 'own', 'failed-stale', 'failed'];

/**
 * Why a wait ended: the lease's outcome; `ended` (released and taken again before this thread
 * looked: outcome unknown); `expired` (its holder's expiry passed); `deadline` (the waiter's own).
 */
export type LeaseWait = LeaseOutcome | 'ended' | 'expired' | 'deadline';

export type Lease =
  /**
   * This thread fills: it must release (in a finally) with what its waiters may do. `answered`:
   * its integration answered (the head arrived) and the body follows; the waiters' deadlines no
   * longer apply, as on this thread (coalescing.ts), and the lease lasts until `expiresAt`.
   */
  | { readonly kind: 'taken'; release(outcome: LeaseOutcome, storedAt?: number): void; answered(expiresAt: number): void; followed(): boolean }
  /**
   * Another thread fills: wait for it, until `deadline` (epoch ms) at the latest unless it was
   * answered — then until its release or expiry, and `onAnswered` is told (once).
   */
  | { readonly kind: 'held'; readonly owner: number; wait(deadline: number, onAnswered?: () => void): Promise<LeaseWait>; readonly sharedStoredAt: number | undefined }
  /** No slot free for the key: call alone. */
  | { readonly kind: 'none' };

// Header cells (Int32).
const HEADER_LOCK = 0;
const HEADER_NEXT_LEASE = 1;
const HEADER_HASH_KEY_0 = 2;
const HEADER_HASH_KEY_1 = 3;
const HEADER_SLOTS = 4;
const HEADER_CELLS = 5;
// Slot cells (Int32, SLOT_STRIDE per slot).
/** > 0: the lease number, filling; < 0: minus (1 + outcome index), released; 0: never used. */
const SLOT_WORD = 0;
const SLOT_LEASE = 1;
const SLOT_HASH_0 = 2;
const SLOT_HASH_1 = 3;
const SLOT_OWNER = 4;
/** The lease number once its integration answered (its waiters' deadlines no longer apply). */
const SLOT_ANSWERED = 5;
/**
 * Waits under way for the lease on other threads: while any, its leader's call goes on even if
 * its own caller hangs up (coalescing.ts LeaderLink), as it does for waiters on its own thread.
 */
const SLOT_FOLLOWERS = 6;
const SLOT_STRIDE = 7;

const NONE: Lease = { kind: 'none' };

/** Atomics.waitAsync (Node 16+; TypeScript declares it only from its es2024 lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(cells: Int32Array, at: number, value: number, timeoutMs: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}).waitAsync.bind(Atomics);

/** A new lease table: its buffer goes to every thread with the store's (SharedStoreBuffers.leases). */
export function allocateLeases(slots = LEASE_SLOTS): SharedArrayBuffer {
  if (!Number.isInteger(slots) || slots < 1 || (slots & (slots - 1)) !== 0) throw new RangeError(`lease table: slots must be a power of two, got ${slots}`);
  // Int32 cells, then one Float64 expiry per slot, then one Float64 storedAt per slot.
  const buffer = new SharedArrayBuffer(intCells(slots) * 4 + slots * 16);
  const header = new Int32Array(buffer, 0, HEADER_CELLS);
  header[HEADER_SLOTS] = slots;
  const hashKey = randomBytes(8);
  header[HEADER_HASH_KEY_0] = hashKey.readInt32LE(0);
  header[HEADER_HASH_KEY_1] = hashKey.readInt32LE(4);
  return buffer;
}

/** One thread's handle on the lease table. */
export class FillLeases {
  private readonly cells: Int32Array;
  private readonly expiries: Float64Array;
  /** Per slot, set at a `shared` release: the storedAt of the entry the leader stored (its identity for followers). */
  private readonly storedAts: Float64Array;
  private readonly mask: number;
  private readonly hashKey0: number;
  private readonly hashKey1: number;

  /** `owner`: this thread's id (recorded for diagnostics); `now`: real time, the clock of every thread's deadlines. */
  constructor(buffer: SharedArrayBuffer, private readonly owner: number, private readonly now: () => number = Date.now) {
    const slots = new Int32Array(buffer, 0, HEADER_CELLS)[HEADER_SLOTS]!;
    this.cells = new Int32Array(buffer, 0, intCells(slots));
    this.expiries = new Float64Array(buffer, intCells(slots) * 4, slots);
    this.storedAts = new Float64Array(buffer, intCells(slots) * 4 + slots * 8, slots);
    this.mask = slots - 1;
    this.hashKey0 = this.cells[HEADER_HASH_KEY_0]!;
    this.hashKey1 = this.cells[HEADER_HASH_KEY_1]!;
  }

  /**
   * Takes the lease of `key` until `expiresAt` (epoch ms), or says who holds it, or that no slot
   * is free. Synchronous, so a thread checks its own flights and the lease in one turn.
   */
  take(key: string, expiresAt: number): Lease {
    const bytes = Buffer.from(key);
    // Two differently keyed hashes: 64 bits, so two live keys sharing a slot's identity is negligible.
    const hash0 = keyedHash(bytes, bytes.length, this.hashKey0, this.hashKey1);
    const hash1 = keyedHash(bytes, bytes.length, ~this.hashKey0, this.hashKey1 ^ 0x5bd1e995);
    const { cells, expiries } = this;
    const now = this.now();
    lock(cells, HEADER_LOCK);
    try {
      let free = -1;
      for (let probe = 0; probe < LEASE_PROBES; probe++) {
        const slot = (hash0 + probe) & this.mask;
        const at = HEADER_CELLS + slot * SLOT_STRIDE;
        const live = cells[at + SLOT_WORD]! > 0 && expiries[slot]! > now;
        if (live && cells[at + SLOT_HASH_0] === hash0 && cells[at + SLOT_HASH_1] === hash1) {
          return this.held(slot, cells[at + SLOT_WORD]!, cells[at + SLOT_OWNER]!);
        }
        if (!live && free < 0) free = slot;
      }
      if (free < 0) return NONE;
      return this.claim(free, hash0, hash1, expiresAt);
    } finally {
      unlock(cells, HEADER_LOCK);
    }
  }

  /** Fills `slot` with a new lease (under the lock). */
  private claim(slot: number, hash0: number, hash1: number, expiresAt: number): Lease {
    const { cells } = this;
    const at = HEADER_CELLS + slot * SLOT_STRIDE;
    // Lease numbers are positive and wrap after 2^31 - 1 leases: only a live lease's number must be unique.
    let lease = cells[HEADER_NEXT_LEASE]! + 1;
    if (lease > 0x7fffffff || lease < 1) lease = 1;
    cells[HEADER_NEXT_LEASE] = lease;
    cells[at + SLOT_LEASE] = lease;
    cells[at + SLOT_HASH_0] = hash0;
    cells[at + SLOT_HASH_1] = hash1;
    cells[at + SLOT_OWNER] = this.owner;
    cells[at + SLOT_ANSWERED] = 0;
    cells[at + SLOT_FOLLOWERS] = 0;
    this.expiries[slot] = expiresAt;
    Atomics.store(cells, at + SLOT_WORD, lease);
    let released = false;
    return {
      kind: 'taken',
      release: (outcome, storedAt) => {
        if (released) return;
        released = true;
        this.release(slot, lease, outcome, storedAt);
      },
      answered: (until) => this.answered(slot, lease, until),
      followed: () => this.followed(slot, lease),
    };
  }

  /**
   * Ends every live lease `owner` holds as `failed` and wakes its waiters: that thread has exited
   * (cli/workers.ts), so its calls will never end them. Its waiters then go on their own with what
   * is left of their timeouts, instead of waiting for the leases' expiry. Returns how many ended.
   */
  releaseOwnedBy(owner: number): number {
    const { cells } = this;
    const ended: number[] = [];
    lock(cells, HEADER_LOCK);
    for (let slot = 0; slot <= this.mask; slot++) {
      const at = HEADER_CELLS + slot * SLOT_STRIDE;
      if (cells[at + SLOT_WORD]! > 0 && cells[at + SLOT_OWNER] === owner) {
        this.storedAts[slot] = Number.NaN;
        Atomics.store(cells, at + SLOT_WORD, -(1 + OUTCOMES.indexOf('failed')));
        ended.push(at + SLOT_WORD);
      }
    }
    unlock(cells, HEADER_LOCK);
    for (const word of ended) Atomics.notify(cells, word);
    return ended.length;
  }

  /** Whether a thread waits for `lease` now. */
  private followed(slot: number, lease: number): boolean {
    const at = HEADER_CELLS + slot * SLOT_STRIDE;
    return Atomics.load(this.cells, at + SLOT_WORD) === lease && Atomics.load(this.cells, at + SLOT_FOLLOWERS) > 0;
  }

  /** Counts a wait for `lease` in or out (nothing once the slot holds another lease). */
  private follow(slot: number, lease: number, delta: 1 | -1): void {
    const { cells } = this;
    const at = HEADER_CELLS + slot * SLOT_STRIDE;
    lock(cells, HEADER_LOCK);
    if (cells[at + SLOT_LEASE] === lease) cells[at + SLOT_FOLLOWERS] = Math.max(0, cells[at + SLOT_FOLLOWERS]! + delta);
    unlock(cells, HEADER_LOCK);
  }

  private answered(slot: number, lease: number, expiresAt: number): void {
    const { cells } = this;
    const at = HEADER_CELLS + slot * SLOT_STRIDE;
    lock(cells, HEADER_LOCK);
    const ours = cells[at + SLOT_WORD] === lease;
    if (ours) {
      cells[at + SLOT_ANSWERED] = lease;
      this.expiries[slot] = Math.max(this.expiries[slot]!, expiresAt);
    }
    unlock(cells, HEADER_LOCK);
    // Waiters look again: their deadlines no longer apply.
    if (ours) Atomics.notify(cells, at + SLOT_WORD);
  }

  /**
   * Ends `lease` with `outcome` and wakes its waiters; nothing if it expired and was taken again.
   * `storedAt`: of the entry a `shared` leader stored, so a follower serves exactly that entry
   * (fresh or not, as a waiter on the leader's thread would: a `no-cache` answer is never fresh).
   */
  private release(slot: number, lease: number, outcome: LeaseOutcome, storedAt = Number.NaN): void {
    const { cells } = this;
    const word = HEADER_CELLS + slot * SLOT_STRIDE + SLOT_WORD;
    lock(cells, HEADER_LOCK);
    const ours = cells[word] === lease;
    if (ours) {
      this.storedAts[slot] = storedAt;
      Atomics.store(cells, word, -(1 + OUTCOMES.indexOf(outcome)));
    }
    unlock(cells, HEADER_LOCK);
    if (ours) Atomics.notify(cells, word);
  }

  private held(slot: number, lease: number, owner: number): Lease {
    const seen: { sharedStoredAt: number | undefined } = { sharedStoredAt: undefined };
    return {
      kind: 'held', owner,
      wait: (deadline, onAnswered) => this.waitFor(slot, lease, deadline, onAnswered, seen),
      get sharedStoredAt() {
        return seen.sharedStoredAt;
      },
    };
  }

  /**
   * Waits until `lease` in `slot` is released, expires, or `deadline` passes — the deadline only
   * until the lease's integration answered. Wakes at the earlier of the two to look again.
   */
  private async waitFor(slot: number, lease: number, deadline: number, onAnswered: (() => void) | undefined, seen: { sharedStoredAt: number | undefined }): Promise<LeaseWait> {
    this.follow(slot, lease, 1);
    try {
      return await this.waitLoop(slot, lease, deadline, onAnswered, seen);
    } finally {
      this.follow(slot, lease, -1);
    }
  }

  private async waitLoop(slot: number, lease: number, deadline: number, onAnswered: (() => void) | undefined, ended: { sharedStoredAt: number | undefined }): Promise<LeaseWait> {
    const word = HEADER_CELLS + slot * SLOT_STRIDE + SLOT_WORD;
    let told = false;
    for (;;) {
      const seen = this.look(slot, lease, ended);
      if (typeof seen === 'string') return seen;
      if (seen.answered && !told) {
        told = true;
        onAnswered?.();
      }
      const now = this.now();
      if (now >= seen.expiresAt) return 'expired';
      if (!seen.answered && now >= deadline) return 'deadline';
      const timeoutMs = (seen.answered ? seen.expiresAt : Math.min(deadline, seen.expiresAt)) - now;
      const waited = waitAsync(this.cells, word, lease, timeoutMs);
      if (waited.async) await settledWithin(waited.value, timeoutMs);
    }
  }

  /**
   * How `lease` ended (and, when `shared`, the storedAt of its entry into `ended`), or its expiry
   * while it lasts, read under the lock (the slot may have been taken again since).
   */
  private look(slot: number, lease: number, ended: { sharedStoredAt: number | undefined }): LeaseWait | { expiresAt: number; answered: boolean } {
    const { cells } = this;
    const at = HEADER_CELLS + slot * SLOT_STRIDE;
    lock(cells, HEADER_LOCK);
    const word = cells[at + SLOT_WORD]!;
    const same = cells[at + SLOT_LEASE] === lease;
    const seen = { expiresAt: this.expiries[slot]!, answered: cells[at + SLOT_ANSWERED] === lease };
    const storedAt = this.storedAts[slot]!;
    unlock(cells, HEADER_LOCK);
    if (same && word < 0 && !Number.isNaN(storedAt)) ended.sharedStoredAt = storedAt;
    if (word === lease) return seen;
    return same && word < 0 ? OUTCOMES[-word - 1]! : 'ended';
  }
}

/**
 * Waits for `waiting` (a waitAsync) for at most `timeoutMs`. Node does not count a pending
 * waitAsync as work: an event loop with nothing else to do would end under it. A timer of the
 * same length keeps the loop alive and ends the wait even so.
 */
function settledWithin(waiting: Promise<unknown>, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void waiting.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Int32 cells of a table of `slots` slots, rounded up to even so the expiries after them are 8-byte aligned. */
function intCells(slots: number): number {
  const cells = HEADER_CELLS + slots * SLOT_STRIDE;
  return cells + (cells & 1);
}
