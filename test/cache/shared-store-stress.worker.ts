/**
 * One thread of the shared-store stress test: mixed get/set/delete/flush/purge on checksummed
 * entries for a bounded number of operations (or time), reporting every torn read it saw.
 * Each body says which key and which write it belongs to and carries a checksum of its bytes;
 * its headers repeat both, so a read mixing two writes or two keys cannot pass.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import type { SharedStoreBuffers } from '../../src/cache/stores/shared/layout.js';

export interface StressTask {
  buffers: SharedStoreBuffers;
  stages: string[];
  thread: number;
  seed: number;
  keys: number;
  operations: number;
  deadline: number;
}
export interface StressReport {
  operations: number;
  hits: number;
  misses: number;
  torn: string[];
}

/** xorshift32: a seeded sequence, so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

export function checksum(bytes: Uint8Array, from: number): number {
  let sum = 0;
  for (let i = from; i < bytes.length; i++) sum = (Math.imul(sum, 31) + bytes[i]!) | 0;
  return sum >>> 0;
}

export function makeEntry(key: string, writer: string, size: number, next: () => number): CacheEntry {
  const label = Buffer.from(`${key}|${writer}|`);
  const body = Buffer.allocUnsafe(label.length + size);
  label.copy(body);
  for (let i = label.length; i < body.length; i++) body[i] = (next() * 256) | 0;
  return {
    version: CACHE_ENTRY_VERSION, statusCode: 200,
    headers: [['x-key', key], ['x-writer', writer], ['x-sum', String(checksum(body, 0))]],
    body, storedAt: 0, staleAt: 1e15, deleteAt: 1e15, tags: [`writer-${writer.split('.')[0]}`, `key-${key}`],
  };
}

/** Why an entry read for `key` is not one whole write of it, or undefined when it is. */
export function tornReason(key: string, entry: CacheEntry): string | undefined {
  const header = (name: string) => entry.headers.find(([n]) => n === name)?.[1];
  const writer = header('x-writer');
  if (header('x-key') !== key) return `key ${key} read an entry of ${header('x-key')}`;
  if (!entry.body.subarray(0, key.length + writer!.length + 2).equals(Buffer.from(`${key}|${writer}|`))) return `key ${key}: body label is not ${writer}'s`;
  if (String(checksum(entry.body, 0)) !== header('x-sum')) return `key ${key}: body checksum differs from write ${writer}`;
  if (!entry.tags?.includes(`key-${key}`)) return `key ${key}: tags of another entry`;
  return undefined;
}

if (parentPort !== null && workerData?.stress === true) {
  const task = workerData.task as StressTask;
  const store = SharedStore.attach(task.buffers);
  const next = random(task.seed);
  const report: StressReport = { operations: 0, hits: 0, misses: 0, torn: [] };
  let writes = 0;
  for (; report.operations < task.operations && (report.operations % 256 !== 0 || Date.now() < task.deadline); report.operations++) {
    const stage = task.stages[(next() * task.stages.length) | 0]!;
    const key = `k${(next() * task.keys) | 0}`;
    const roll = next();
    if (roll < 0.55) {
      const entry = store.get(stage, key);
      if (entry === undefined) report.misses++;
      else {
        report.hits++;
        const reason = tornReason(key, entry);
        if (reason !== undefined && report.torn.length < 10) report.torn.push(reason);
      }
    } else if (roll < 0.92) {
      // Sizes from empty to many blocks, so chains of every length are freed and reused.
      const size = next() < 0.8 ? (next() * 600) | 0 : (next() * 9000) | 0;
      store.set(stage, key, makeEntry(key, `${task.thread}.${writes++}`, size, next));
    } else if (roll < 0.97) store.delete(stage, key);
    else if (roll < 0.995) store.purge(stage, { tags: [`key-${key}`] });
    else store.flush(stage);
  }
  parentPort.postMessage(report);
}
