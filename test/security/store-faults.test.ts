/**
 * Faults of the shared store's threads (issue 17: "faults of the backend and the store"). A
 * gateway thread can end at any instruction — Node terminates a worker whose heap reaches its
 * limit, and worker.terminate() stops one wherever it is — and `cachegate start --workers N`
 * replaces a thread that died. What such a death leaves in shared memory must not stop the others.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CACHE_ENTRY_VERSION } from '../../src/cache/entry.js';
import { CONTROL_LOCK } from '../../src/cache/stores/shared/layout.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import type { FaultTask } from './store-faults.worker.js';

const WORKER = fileURLToPath(new URL('./store-faults.worker.js', import.meta.url));
const STAGE = 'api\u0000prod';
/** Threads stopped at a random point of their writes before the test gives up finding one that held the lock. */
const ATTEMPTS = 40;

function thread(task: FaultTask): Worker {
  const worker = new Worker(WORKER, { workerData: { storeFault: true, task } });
  worker.on('error', () => {});
  return worker;
}

/** Whether another thread still gets an answer from the store within `ms` (it sleeps forever on a lock nobody will release). */
async function answers(store: SharedStore, ms: number): Promise<boolean> {
  const probe = thread({ buffers: store.buffers, stage: STAGE, role: 'probe' });
  let timer: NodeJS.Timeout | undefined;
  const answered = await Promise.race([
    new Promise<boolean>((resolve) => probe.once('message', () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  await probe.terminate();
  return answered;
}

describe('shared store: a thread that dies inside the store', () => {
  it('does not leave the store locked for every other thread', { todo: 'a thread terminated (or out of memory) while it holds the store lock leaves it held: every other thread sleeps in Atomics.wait forever. Under `cachegate start --workers N` the main thread now ends the process instead (exit 70, test/cli/died-in-lock); recovering in place (resetting the store) is not done' }, async () => {
    // Small arena, 48 KiB entries: each write evicts and copies blocks under the lock.
    const store = new SharedStore({ arenaBytes: 1024 * 1024, blockBytes: 1024 });
    store.configureStage(STAGE, 1024 * 1024);
    store.set(STAGE, 'probe', { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [], body: Buffer.from('p'), storedAt: 0, staleAt: 1e15, deleteAt: 1e15 });
    const control = new Int32Array(store.buffers.control);
    let heldByTheDead = 0;
    for (let attempt = 0; attempt < ATTEMPTS && heldByTheDead === 0; attempt++) {
      const writer = thread({ buffers: store.buffers, stage: STAGE, role: 'writer' });
      await new Promise((resolve) => writer.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, 1 + (attempt % 7)));
      await writer.terminate();
      heldByTheDead = Atomics.load(control, CONTROL_LOCK);
    }
    process.stdout.write(`# lock cell after the writer died: ${heldByTheDead}\n`);
    assert.equal(await answers(store, 3000), true, 'another thread still gets answers from the store');
  });
});
