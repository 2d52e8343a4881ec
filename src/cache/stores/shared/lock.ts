/**
 * A mutex in shared memory for threads of one process: one Int32 cell, 0 free, 1 held, 2 held
 * with waiters (the futex mutex of Drepper's "Futexes Are Tricky", mutex 2). A thread spins a
 * little first — critical sections here are a hash probe and a copy of one entry, shorter than
 * a sleep/wake pair — then sleeps in Atomics.wait, which Node allows on every thread.
 */
const FREE = 0;
const HELD = 1;
const CONTENDED = 2;
/** Tries before sleeping: a held lock is normally released within a few hundred nanoseconds. */
const SPINS = 64;

/**
 * Where this thread counts the locks it holds (countLocksIn): the main thread reads it when the
 * thread exits, and a thread that died holding one (terminated out of memory inside a critical
 * section) leaves shared memory half-written and the lock held forever — the process must not go
 * on (cli/workers.ts). A private cell until a gateway thread is given its shared one.
 */
let held: Int32Array<ArrayBufferLike> = new Int32Array(1);
let heldAt = 0;

/** Counts this thread's held locks in `cells[at]` (shared with the main thread). */
export function countLocksIn(cells: Int32Array, at: number): void {
  held = cells;
  heldAt = at;
}

export function lock(cells: Int32Array, at: number): void {
  acquire(cells, at);
  held[heldAt]!++;
}

export function unlock(cells: Int32Array, at: number): void {
  held[heldAt]!--;
  release(cells, at);
}

function acquire(cells: Int32Array, at: number): void {
  let state = Atomics.compareExchange(cells, at, FREE, HELD);
  if (state === FREE) return;
  for (let i = 0; i < SPINS; i++) {
    state = Atomics.compareExchange(cells, at, FREE, HELD);
    if (state === FREE) return;
  }
  // Mark the lock contended so the holder wakes us, and sleep until it is free.
  if (state !== CONTENDED) state = Atomics.exchange(cells, at, CONTENDED);
  while (state !== FREE) {
    Atomics.wait(cells, at, CONTENDED);
    state = Atomics.exchange(cells, at, CONTENDED);
  }
}

function release(cells: Int32Array, at: number): void {
  if (Atomics.sub(cells, at, 1) !== HELD) {
    Atomics.store(cells, at, FREE);
    Atomics.notify(cells, at, 1);
  }
}
