/**
 * The gateway threads' shared bucket table (throttle-shared.ts, issue 17): one bucket per limit
 * for every thread, exact under contention; LocalBucket's algorithm; a full table degrades to a
 * per-thread share (counted), never to no limit; and two gateways on one table admit a burst once.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway/gateway.js';
import { LocalBucket, type ThrottleLimits } from '../../src/gateway/throttle-bucket.js';
import { createThrottleTable, RECLAIM_IDLE_MS, SharedBucketTable } from '../../src/gateway/throttle-shared.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import type { HammerTask } from './throttle-shared.worker.js';

const WORKER = fileURLToPath(new URL('./throttle-shared.worker.js', import.meta.url));

/** Starts `threads` threads on one bucket of `table`, releases them at once, and sums what they were admitted. */
async function hammer(table: SharedArrayBuffer, threads: number, limits: ThrottleLimits, attempts: number): Promise<{ admitted: number; full: number }> {
  const startLine = new SharedArrayBuffer(8);
  const line = new Int32Array(startLine);
  let full = 0;
  const workers = Array.from({ length: threads }, () => {
    const task: HammerTask = { table, startLine, identity: 'method\u0000api\u0000prod\u0000/x\u0000GET', limits, threads, attempts };
    return new Worker(WORKER, { workerData: task });
  });
  const results = workers.map((worker) => new Promise<number>((resolve, reject) => {
    worker.on('message', (message: { admitted?: number; full?: boolean }) => (message.full ? full++ : resolve(message.admitted!)));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`thread exited with ${code}`)));
  }));
  const deadline = Date.now() + 10_000;
  while (Atomics.load(line, 0) < threads && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  Atomics.store(line, 1, 1);
  Atomics.notify(line, 1);
  const admitted = (await Promise.all(results)).reduce((sum, count) => sum + count, 0);
  return { admitted, full };
}

/** A table in this thread with a driven clock, recording the identities that found it full. */
function drivenTable(buckets: number, threads = 2) {
  const clock = { now: 1_000_000 };
  const full: string[] = [];
  const table = new SharedBucketTable(createThrottleTable(buckets), { threads, onFull: (identity) => full.push(identity), now: () => clock.now });
  return { table, clock, full };
}

const takes = (bucket: { take(): boolean | Promise<boolean> }, count: number) => Array.from({ length: count }, () => bucket.take());

describe('shared throttling bucket table', () => {
  it('threads hammering one bucket at once are admitted exactly its burst (rate 0; generated bursts and thread counts)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 300 }), async (threads, burst) => {
        const table = createThrottleTable(64);
        // Every thread alone could take the whole burst: only the one shared bucket stops them.
        const { admitted, full } = await hammer(table, threads, { rateLimit: 0, burstLimit: burst }, burst + 200);
        assert.equal(full, 0);
        assert.equal(admitted, burst, `${threads} threads, burst ${burst}`);
      }),
      { seed: 17, numRuns: 8 },
    );
  });

  it('decides as LocalBucket does: full at start, refill at the rate, capped at the burst (generated arrivals)', () => {
    fc.assert(
      fc.property(
        fc.record({ rate: fc.double({ min: 0, max: 1000, noNaN: true }), burst: fc.integer({ min: 0, max: 50 }) }),
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 200 }), requests: fc.integer({ min: 0, max: 20 }) }), { maxLength: 40 }),
        ({ rate, burst }, arrivals) => {
          const { table, clock } = drivenTable(4);
          const limits = { rateLimit: rate, burstLimit: burst };
          const shared = table.bucket('b', limits);
          const local = new LocalBucket(limits, () => clock.now);
          for (const { gapMs, requests } of arrivals) {
            clock.now += gapMs;
            for (let i = 0; i < requests; i++) assert.equal(shared.take(), local.take(), `at ${clock.now} ms`);
          }
        },
      ),
      { seed: 17, numRuns: 200 },
    );
  });

  it('one bucket per identity: another thread\'s view finds the same bucket, other limits get their own', () => {
    const buffer = createThrottleTable(8);
    const clock = { now: 0 };
    const [table, otherThread] = [0, 1].map(() => new SharedBucketTable(buffer, { threads: 2, onFull: assert.fail, now: () => clock.now }));
    const limits = { rateLimit: 0, burstLimit: 2 };
    const first = table!.bucket('method api prod /x GET 0 2', limits);
    const again = otherThread!.bucket('method api prod /x GET 0 2', limits);
    assert.deepEqual([...takes(first, 1), ...takes(again, 2)], [true, true, false], 'one bucket, two views');
    // New limits (a reload) are a new identity: a new, full bucket.
    assert.deepEqual(takes(table!.bucket('method api prod /x GET 0 3', { rateLimit: 0, burstLimit: 3 }), 4), [true, true, true, false]);
    assert.deepEqual(takes(otherThread!.bucket('method api prod /y GET 0 2', limits), 3), [true, true, false]);
    clock.now += 10 * RECLAIM_IDLE_MS;
    assert.equal(first.take(), false, 'rate 0: a spent bucket stays spent');
  });

  it('full table: the identity left out holds 1/N of its limit, reported once; stale full buckets are reused; spent ones never', () => {
    const { table, clock, full } = drivenTable(2, 2);
    const slow = { rateLimit: 0, burstLimit: 3 };
    const refilling = { rateLimit: 1, burstLimit: 2 };
    const spent = table.bucket('spent', slow);
    assert.deepEqual(takes(spent, 4), [true, true, true, false]);
    const busy = table.bucket('busy', refilling);
    assert.deepEqual(takes(busy, 3), [true, true, false]);
    // No slot left and none stale: the third identity is throttled per thread, burst ceil(4/2) = 2.
    const late = table.bucket('late', { rateLimit: 0, burstLimit: 4 });
    assert.deepEqual(takes(late, 3), [true, true, false]);
    assert.deepEqual(full, ['late']);

    // A minute later `busy` has refilled and sat idle: a new identity takes its slot...
    clock.now += RECLAIM_IDLE_MS;
    const next = table.bucket('next', { rateLimit: 0, burstLimit: 1 });
    assert.deepEqual(takes(next, 2), [true, false]);
    assert.deepEqual(full, ['late'], 'the stale slot was reused, not overflowed');
    // ...and `busy`, full when it lost its slot, finds the table full: its share, full (burst ceil(2/2) = 1).
    assert.deepEqual(takes(busy, 2), [true, false]);
    assert.deepEqual(full, ['late', 'busy']);
    // The spent rate-0 bucket was never given away: still refusing.
    assert.equal(spent.take(), false);
  });

  describe('two gateways on one table (as two --workers threads)', () => {
    const gateways: Gateway[] = [];
    after(() => Promise.all(gateways.map((gateway) => gateway.close())));

    const config = (methodSettings: Record<string, unknown>) => ({
      apis: [{
        id: 'api',
        resources: { '/x': { GET: { integration: { type: 'MOCK', body: 'x' } } }, '/y': { GET: { integration: { type: 'MOCK', body: 'y' } } } },
        stages: { prod: { methodSettings } },
      }],
    });

    it('admit the burst once between them; a table too small splits the limit left out and counts it', async () => {
      const table = createThrottleTable(1);
      const settings = { 'x/GET': { throttlingRateLimit: 0.001, throttlingBurstLimit: 3 }, 'y/GET': { throttlingRateLimit: 0.001, throttlingBurstLimit: 4 } };
      const both = await Promise.all([0, 1].map(() => startGateway(config(settings), { threadBuckets: { table, threads: 2 } })));
      gateways.push(...both);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await call(`${both[i % 2]!.dataUrl}/prod/x`)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429, 429, 429], 'burst 3 for both, not 3 each');
      // One slot, taken by /x: /y holds ceil(4/2) = 2 per gateway, 4 in all — its limit, never more.
      const y: number[] = [];
      for (let i = 0; i < 6; i++) y.push((await call(`${both[i % 2]!.dataUrl}/prod/y`)).status);
      assert.deepEqual(y, [200, 200, 200, 200, 429, 429]);
      const metrics = await call(`${both[0]!.adminUrl}/metrics`);
      assert.match(metrics.text, /^cachegate_throttle_table_full_total 1$/m);
    });
  });
});
