/**
 * A thread of store-faults.test.ts: attaches to a shared store and either writes entries without
 * end (so that it is inside the store's lock much of the time when it is stopped), or reads one
 * key once and reports what it found (a probe of whether the store still answers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CACHE_ENTRY_VERSION } from '../../src/cache/entry.js';
import type { SharedStoreBuffers } from '../../src/cache/stores/shared/layout.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';

export interface FaultTask {
  readonly buffers: SharedStoreBuffers;
  readonly stage: string;
  readonly role: 'writer' | 'probe';
}

if (parentPort !== null && workerData?.storeFault === true) {
  const task = workerData.task as FaultTask;
  const store = SharedStore.attach(task.buffers);
  if (task.role === 'probe') {
    parentPort.postMessage({ found: store.get(task.stage, 'probe') !== undefined });
  } else {
    const body = Buffer.alloc(48 * 1024, 'w');
    let told = false;
    for (let i = 0; ; i++) {
      store.set(task.stage, `k${i % 64}`, { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['x-i', String(i)]], body, storedAt: 0, staleAt: 1e15, deleteAt: 1e15 });
      if (!told) {
        told = true;
        parentPort.postMessage('writing');
      }
    }
  }
}
