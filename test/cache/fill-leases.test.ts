/**
 * The cross-thread fill lease table (stores/shared/leases.ts, issue 17): one holder per key at a
 * time, a release wakes the waiters with its outcome, an expired lease frees its slot (a thread
 * that died holding it blocks nobody past its expiry), and a full or colliding table answers
 * "none" (call alone) — never a wait on another key. Then several threads hammer it at once.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { allocateLeases, FillLeases, LEASE_PROBES } from '../../src/cache/stores/shared/leases.js';
import type { LeaseReport, LeaseTask } from './fill-leases.worker.js';

const WORKER = fileURLToPath(new URL('./fill-leases.worker.js', import.meta.url));

describe('FillLeases', () => {
  it('one holder per key: another thread sees it held, and its release wakes it with the outcome', async () => {
    const buffer = allocateLeases(64);
    const [first, second] = [new FillLeases(buffer, 1), new FillLeases(buffer, 2)];
    const lease = first.take('a', Date.now() + 5_000);
    assert.equal(lease.kind, 'taken');
    const other = second.take('a', Date.now() + 5_000);
    assert.equal(other.kind, 'held');
    assert.equal(other.kind === 'held' && other.owner, 1);
    assert.equal(second.take('b', Date.now() + 5_000).kind, 'taken', 'another key is not held by it');
    const waited = other.kind === 'held' ? other.wait(Date.now() + 5_000) : undefined;
    lease.kind === 'taken' && lease.release('unshareable');
    assert.equal(await waited, 'unshareable');
    assert.equal(second.take('a', Date.now() + 5_000).kind, 'taken', 'released: the next miss takes it');
  });

  it('a wait ends at the waiter\'s deadline, at the lease\'s expiry, or as "ended" when the slot was taken again', async () => {
    const buffer = allocateLeases(64);
    const [first, second] = [new FillLeases(buffer, 1), new FillLeases(buffer, 2)];
    const long = first.take('long', Date.now() + 60_000);
    const held = second.take('long', Date.now() + 60_000);
    assert.ok(long.kind === 'taken' && held.kind === 'held');
    assert.equal(await held.wait(Date.now() + 50), 'deadline');
    // A holder that never releases (its thread died): waiters stop at its expiry, and the slot is free.
    first.take('dead', Date.now() + 50);
    const behind = second.take('dead', Date.now() + 5_000);
    assert.ok(behind.kind === 'held');
    assert.equal(await behind.wait(Date.now() + 60_000), 'expired');
    const again = second.take('dead', Date.now() + 5_000);
    assert.equal(again.kind, 'taken');
    // Released and taken again before the waiter looked: the outcome it waited for is unknown.
    const third = new FillLeases(buffer, 3).take('dead', Date.now() + 5_000);
    assert.ok(third.kind === 'held');
    again.release('shared');
    assert.equal(second.take('dead', Date.now() + 5_000).kind, 'taken');
    assert.equal(await third.wait(Date.now() + 1_000), 'ended');
    long.release('failed');
  });

  it('a thread that exits has its live leases ended as failed at once: its waiters go on, others\' leases stay', async () => {
    const buffer = allocateLeases(64);
    const [dead, alive, waiter] = [new FillLeases(buffer, 1), new FillLeases(buffer, 2), new FillLeases(buffer, 3)];
    assert.equal(dead.take('x', Date.now() + 60_000).kind, 'taken');
    assert.equal(dead.take('y', Date.now() + 60_000).kind, 'taken');
    const kept = alive.take('z', Date.now() + 60_000);
    const behind = waiter.take('x', Date.now() + 60_000);
    assert.ok(behind.kind === 'held');
    const started = Date.now();
    const waited = behind.wait(Date.now() + 60_000);
    // As startThreads does on a thread's exit, from another thread's handle.
    assert.equal(new FillLeases(buffer, 0).releaseOwnedBy(1), 2);
    assert.equal(await waited, 'failed');
    assert.ok(Date.now() - started < 5_000, 'the waiter was woken, not left to the expiry');
    assert.equal(waiter.take('y', Date.now() + 60_000).kind, 'taken', 'the dead thread\'s other lease is free');
    assert.equal(waiter.take('z', Date.now() + 60_000).kind, 'held', 'a live thread\'s lease is untouched');
    kept.kind === 'taken' && kept.release('shared');
  });

  it('once its holder is answered, a waiter waits past its own deadline for the release, and the lease lasts until its new expiry', async () => {
    const buffer = allocateLeases(64);
    const [first, second] = [new FillLeases(buffer, 1), new FillLeases(buffer, 2)];
    const lease = first.take('body', Date.now() + 100);
    const held = second.take('body', Date.now() + 5_000);
    assert.ok(lease.kind === 'taken' && held.kind === 'held');
    let told = 0;
    const waited = held.wait(Date.now() + 50, () => told++);
    lease.answered(Date.now() + 5_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(second.take('body', Date.now() + 5_000).kind, 'held', 'past its first expiry, still held');
    lease.release('shared');
    assert.equal(await waited, 'shared', 'waited past its deadline of 50 ms');
    assert.equal(told, 1);
  });

  it('an expired holder\'s late release does not end its successor\'s lease', () => {
    let now = 0;
    const buffer = allocateLeases(64);
    const [first, second, third] = [1, 2, 3].map((id) => new FillLeases(buffer, id, () => now));
    const stale = first!.take('k', 100);
    now = 100;
    assert.equal(second!.take('k', 200).kind, 'taken', 'expired: free to take');
    stale.kind === 'taken' && stale.release('failed');
    assert.equal(third!.take('k', 300).kind, 'held', 'still held by the successor');
  });

  it('property: held exactly when the key has a live lease; "none" only when its probe window is full', () => {
    const op = fc.record({ kind: fc.constantFrom('take', 'take', 'release', 'tick'), key: fc.integer({ min: 0, max: 23 }), thread: fc.integer({ min: 0, max: 2 }) });
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      let now = 1_000;
      const buffer = allocateLeases(16);
      const threads = [0, 1, 2].map((id) => new FillLeases(buffer, id, () => now));
      const live = new Map<number, { expiresAt: number; release: () => void }>();
      for (const { kind, key, thread } of ops) {
        for (const [held, lease] of live) if (lease.expiresAt <= now) live.delete(held);
        if (kind === 'tick') now += 40;
        else if (kind === 'release') {
          live.get(key)?.release();
          live.delete(key);
        } else {
          const lease = threads[thread]!.take(`space\u0000${key}`, now + 100);
          if (live.has(key)) assert.equal(lease.kind, 'held', `key ${key} has a live lease`);
          else if (lease.kind === 'none') assert.ok(live.size >= LEASE_PROBES, `none with ${live.size} live leases`);
          else {
            assert.equal(lease.kind, 'taken', `key ${key} has no live lease`);
            live.set(key, { expiresAt: now + 100, release: () => lease.kind === 'taken' && lease.release('shared') });
          }
        }
      }
    }), { seed: 17, numRuns: 300 });
  });

  it('a full table answers "none" at once, never a wait on another key', () => {
    const buffer = allocateLeases(8);
    const leases = new FillLeases(buffer, 1);
    const kinds = Array.from({ length: 12 }, (_, key) => leases.take(`key-${key}`, Date.now() + 5_000).kind);
    assert.deepEqual(kinds, [...Array(8).fill('taken'), ...Array(4).fill('none')]);
  });

  it('under three threads taking and releasing a few keys, no key ever has two holders', async () => {
    const leases = allocateLeases(64);
    const keys = 4;
    const holders = new SharedArrayBuffer(keys * 4);
    const reports = await Promise.all([0, 1, 2].map((thread) => new Promise<LeaseReport>((resolve, reject) => {
      const task: LeaseTask = { leases, holders, thread, keys, operations: 10_000 };
      const worker = new Worker(WORKER, { workerData: { leaseStress: true, task } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`lease thread exited with ${code}`)));
    })));
    assert.equal(reports.reduce((sum, report) => sum + report.doubleHolds, 0), 0, 'two threads held one key at once');
    const held = reports.reduce((sum, report) => sum + report.held, 0);
    assert.ok(held > 100, `the threads contended (${held} takes found the key held)`);
    const woken = reports.reduce((sum, report) => sum + (report.waits.shared ?? 0) + (report.waits.ended ?? 0), 0);
    assert.ok(woken > 0, `a release woke a waiting thread: ${JSON.stringify(reports.map((report) => report.waits))}`);
  });
});
