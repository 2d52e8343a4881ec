/**
 * One thread of the shared bucket table test: waits at the start line (so every thread takes at
 * once), takes `attempts` tokens from one bucket as fast as it can, and reports how many it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThrottleLimits } from '../../src/gateway/throttle-bucket.js';
import { SharedBucketTable } from '../../src/gateway/throttle-shared.js';

export interface HammerTask {
  table: SharedArrayBuffer;
  /** Int32 cell 0: threads ready; the main thread sets cell 1 to 1 to start them all. */
  startLine: SharedArrayBuffer;
  identity: string;
  limits: ThrottleLimits;
  threads: number;
  attempts: number;
}

const task = workerData as HammerTask;
const table = new SharedBucketTable(task.table, { threads: task.threads, onFull: () => parentPort!.postMessage({ full: true }) });
const bucket = table.bucket(task.identity, task.limits);
const line = new Int32Array(task.startLine);
Atomics.add(line, 0, 1);
Atomics.wait(line, 1, 0);
let admitted = 0;
for (let i = 0; i < task.attempts; i++) if (bucket.take()) admitted++;
parentPort!.postMessage({ admitted });
