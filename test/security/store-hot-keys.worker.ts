/**
 * A thread of store-hot-keys.test.ts: sets, reads, deletes and flushes a handful of hot keys, so
 * that reads go through the thread's kept copies and the lock-free hit (shared-store.ts getKnown)
 * while other threads replace those very entries. Reports reads that were torn, older than a write
 * this thread had already seen or made, and entries whose headers and tags, decoded only at the end
 * (after thousands of block reuses), no longer belong to the write the body came from.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CacheEntry } from '../../src/cache/entry.js';
import type { SharedStoreBuffers } from '../../src/cache/stores/shared/layout.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import { makeEntry, tornReason } from '../cache/shared-store-stress.worker.js';

export interface HotKeysTask {
  readonly buffers: SharedStoreBuffers;
  readonly stage: string;
  readonly thread: number;
  readonly threads: number;
  readonly operations: number;
  readonly deadline: number;
}
export interface HotKeysReport {
  readonly reads: number;
  readonly problems: string[];
}

const KEYS = 6;

if (parentPort !== null && workerData?.hotKeys === true) {
  const task = workerData.task as HotKeysTask;
  const store = SharedStore.attach(task.buffers);
  let state = 0x9e3779b9 ^ (task.thread * 7919);
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const problems: string[] = [];
  const problem = (text: string) => problems.length < 10 && problems.push(text);
  /** Per key: per writer thread, the highest write number this thread has seen or made. */
  const seen = new Map<string, number[]>();
  const held: Array<{ key: string; entry: CacheEntry }> = [];
  let reads = 0;
  let writes = 0;
  for (let op = 0; op < task.operations && (op % 256 !== 0 || Date.now() < task.deadline); op++) {
    const key = `hot${(next() * KEYS) | 0}`;
    const marks = seen.get(key) ?? seen.set(key, new Array<number>(task.threads).fill(-1)).get(key)!;
    const roll = next();
    if (roll < 0.8) {
      const entry = store.get(task.stage, key);
      reads++;
      if (entry === undefined) continue;
      // The body's label names the write: `key|thread.write|`.
      const label = entry.body.toString('latin1', 0, 64).split('|')[1]!;
      const [writer, write] = label.split('.').map(Number) as [number, number];
      if (write < marks[writer]!) problem(`${key}: read write ${writer}.${write} after ${writer}.${marks[writer]}`);
      marks[writer] = Math.max(marks[writer]!, write);
      // Some entries are kept undecoded and checked at the end.
      if (held.length < 200 && next() < 0.05) held.push({ key, entry });
      else {
        const reason = tornReason(key, entry);
        if (reason !== undefined) problem(reason);
      }
    } else if (roll < 0.97) {
      const write = writes++;
      store.set(task.stage, key, makeEntry(key, `${task.thread}.${write}`, (next() * 3000) | 0, next));
      marks[task.thread] = write;
      const back = store.get(task.stage, key);
      const label = back?.body.toString('latin1', 0, 64).split('|')[1];
      // Nothing evicts here (the arena holds every key many times over); another thread may have written or deleted since.
      if (label === `${task.thread}.${write - 1}` || (label?.startsWith(`${task.thread}.`) && Number(label.split('.')[1]) < write)) {
        problem(`${key}: right after write ${task.thread}.${write}, read back the older ${label}`);
      }
    } else if (roll < 0.995) store.delete(task.stage, key);
    else store.flush(task.stage);
  }
  for (const { key, entry } of held) {
    const reason = tornReason(key, entry);
    if (reason !== undefined) problem(`decoded late: ${reason}`);
  }
  parentPort.postMessage({ reads, problems } satisfies HotKeysReport);
}
