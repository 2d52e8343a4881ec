/**
 * The shared store's per-thread kept copies and lock-free hits (issue 17) under threads that
 * replace, delete and flush the same few hot keys: a thread never serves a torn entry, never one
 * older than a write it already saw or made (a kept copy outliving its write), and the headers and
 * tags of an entry decoded long after it was read are still that write's (the copy is owned).
 * Bounded by an operation count and a deadline.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import type { HotKeysReport, HotKeysTask } from './store-hot-keys.worker.js';

const WORKER = fileURLToPath(new URL('./store-hot-keys.worker.js', import.meta.url));
const THREADS = 3;
const STAGE = 'api\u0000prod';

describe('shared store: hot keys replaced by other threads', () => {
  it('no thread reads a torn entry, an entry older than one it saw, or headers decoded from reused bytes', async () => {
    const store = new SharedStore({ arenaBytes: 4 * 1024 * 1024, blockBytes: 64 });
    store.configureStage(STAGE, 4 * 1024 * 1024);
    const deadline = Date.now() + 8_000;
    const reports = await Promise.all(Array.from({ length: THREADS }, (_, thread) => new Promise<HotKeysReport>((resolve, reject) => {
      const task: HotKeysTask = { buffers: store.buffers, stage: STAGE, thread, threads: THREADS, operations: 40_000, deadline };
      const worker = new Worker(WORKER, { workerData: { hotKeys: true, task } });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    assert.deepEqual(reports.flatMap((report) => report.problems), []);
    assert.ok(reports.every((report) => report.reads > 1000), 'every thread read');
  });
});
