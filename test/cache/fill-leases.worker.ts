/**
 * One thread of the fill-lease stress test: takes and releases leases of a few keys as fast as it
 * can, counting in shared memory how many threads hold each key's lease at once — the table's
 * invariant is at most one — and sometimes waits on a lease another thread holds.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FillLeases, type LeaseWait } from '../../src/cache/stores/shared/leases.js';

export interface LeaseTask {
  leases: SharedArrayBuffer;
  /** One Int32 per key: threads holding its lease right now. */
  holders: SharedArrayBuffer;
  thread: number;
  keys: number;
  operations: number;
}
export interface LeaseReport {
  taken: number;
  held: number;
  /** Times a thread took a key's lease while another thread held it. */
  doubleHolds: number;
  waits: Partial<Record<LeaseWait, number>>;
}

async function run(task: LeaseTask): Promise<LeaseReport> {
  const leases = new FillLeases(task.leases, task.thread);
  const holders = new Int32Array(task.holders);
  const report: LeaseReport = { taken: 0, held: 0, doubleHolds: 0, waits: {} };
  let state = 0x9e3779b9 ^ task.thread;
  const next = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) | 0) >>> 8) % task.keys;
  for (let i = 0; i < task.operations; i++) {
    const key = next();
    const lease = leases.take(`space\u0000key-${key}`, Date.now() + 10_000);
    if (lease.kind === 'taken') {
      report.taken++;
      if (Atomics.add(holders, key, 1) !== 0) report.doubleHolds++;
      // Hold it a while — sometimes across a turn of the event loop — so the others contend.
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
      else for (let spin = 0; spin < 2_000; spin++) Atomics.load(holders, key);
      Atomics.sub(holders, key, 1);
      lease.release('shared');
    } else if (lease.kind === 'held') {
      report.held++;
      if (i % 8 === 0) {
        const waited = await lease.wait(Date.now() + 1_000);
        report.waits[waited] = (report.waits[waited] ?? 0) + 1;
      }
    }
  }
  return report;
}

if (parentPort !== null && workerData?.leaseStress === true) {
  const port = parentPort;
  void run(workerData.task as LeaseTask).then((report) => port.postMessage(report));
}
