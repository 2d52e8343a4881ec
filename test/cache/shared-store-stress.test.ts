/**
 * The shared store under N threads at once (issue 17): mixed get/set/delete/purge/flush on
 * checksummed entries in an arena small enough that eviction and block reuse never stop.
 * Zero torn reads: every entry a thread reads is one whole write of the key it asked for.
 * Bounded by an operation count and a deadline, never by timing assertions.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import type { StressReport, StressTask } from './shared-store-stress.worker.js';
import { makeEntry, tornReason } from './shared-store-stress.worker.js';

const WORKER = fileURLToPath(new URL('./shared-store-stress.worker.js', import.meta.url));
const THREADS = 3;
const STAGES = ['api\u0000prod', 'api\u0000dev'];

function runThreads(store: SharedStore, operations: number, keys: number): Promise<StressReport[]> {
  const deadline = Date.now() + 8_000;
  return Promise.all(Array.from({ length: THREADS }, (_, thread) => new Promise<StressReport>((resolve, reject) => {
    const task: StressTask = { buffers: store.buffers, stages: STAGES, thread, seed: 0x5eed + thread * 7919, keys, operations, deadline };
    const worker = new Worker(WORKER, { workerData: { stress: true, task } });
    worker.once('message', (report: StressReport) => resolve(report));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`stress thread exited with ${code}`)));
  })));
}

describe('SharedStore under concurrent threads', () => {
  it('never returns a torn, mixed or reused entry while threads set, evict, purge and flush', async () => {
    // 256 KiB of 64-byte blocks: entries of up to ~9 KB chain through up to ~150 blocks, and the
    // arena is a fraction of what the threads write, so blocks are freed and reused constantly.
    const store = new SharedStore({ arenaBytes: 256 * 1024, blockBytes: 64, maxEntries: 2048 });
    // The two stages' budgets add up to more than the arena: both limits are exercised.
    store.configureStage(STAGES[0]!, 160 * 1024);
    store.configureStage(STAGES[1]!, 128 * 1024);
    const reports = await runThreads(store, 12_000, 300);
    const torn = reports.flatMap((report) => report.torn);
    assert.deepEqual(torn, [], 'no torn reads');
    const hits = reports.reduce((sum, report) => sum + report.hits, 0);
    assert.ok(hits > 500, `the threads read entries back (${hits} hits)`);
    for (const stage of STAGES) {
      const stats = store.stats(stage)!;
      assert.ok(stats.bytes <= stats.capacityBytes, `${stage}: ${stats.bytes} bytes within ${stats.capacityBytes}`);
      assert.ok(stats.evictions > 0, `${stage}: eviction happened (${stats.evictions})`);
      // What is left reads back whole, and the counts agree with what is there.
      let found = 0;
      for (let key = 0; key < 300; key++) {
        const entry = store.get(stage, `k${key}`);
        if (entry === undefined) continue;
        found++;
        assert.equal(tornReason(`k${key}`, entry), undefined);
      }
      assert.equal(found, store.stats(stage)!.entries, `${stage}: every counted entry is readable`);
    }
  });

  it('threads see one copy: a write on one thread is read by another, a flush by all', async () => {
    const store = new SharedStore({ arenaBytes: 1 << 20 });
    store.configureStage(STAGES[0]!, 1 << 20);
    const next = () => 0.5;
    store.set(STAGES[0]!, 'k1', makeEntry('k1', 'main.1', 100, next));
    const other = SharedStore.attach(store.buffers);
    assert.equal(tornReason('k1', other.get(STAGES[0]!, 'k1')!), undefined);
    other.flush(STAGES[0]!);
    assert.equal(store.get(STAGES[0]!, 'k1'), undefined);
    assert.equal(store.stats(STAGES[0]!)?.entries, 0);
  });
});
