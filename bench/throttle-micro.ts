/**
 * `node dist/bench/throttle-micro.js`: ns per token taken from a throttling bucket — the
 * per-thread LocalBucket (one gateway thread) against the threads' shared table
 * (throttle-shared.ts, `--workers N`): alone, and with two threads taking from one bucket at once
 * (every take contends for its slot's lock) or from two buckets. Wall time over a fixed count of
 * takes with a high rate, so nearly every take is admitted and does the whole update. Bounded:
 * 2,000,000 takes per case, a few seconds in all.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { LocalBucket, type Bucket } from '../src/gateway/throttle-bucket.js';
import { createThrottleTable, SharedBucketTable } from '../src/gateway/throttle-shared.js';

const TAKES = 2_000_000;
const LIMITS = { rateLimit: 1e12, burstLimit: 1e12 };

interface Job {
  table: SharedArrayBuffer;
  identity: string;
}

/** ns per take over TAKES takes. */
function timeTakes(bucket: Bucket): number {
  const started = process.hrtime.bigint();
  let admitted = 0;
  for (let i = 0; i < TAKES; i++) if (bucket.take() === true) admitted++;
  const elapsed = Number(process.hrtime.bigint() - started);
  if (admitted < TAKES * 0.99) throw new Error(`only ${admitted} admitted`);
  return elapsed / TAKES;
}

const tableBucket = (job: Job) => new SharedBucketTable(job.table, { threads: 2, onFull: () => {} }).bucket(job.identity, LIMITS);

function inThreads(jobs: Job[]): Promise<number[]> {
  return Promise.all(jobs.map((job) => new Promise<number>((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
}

async function main(): Promise<void> {
  const table = createThrottleTable();
  const rows: [string, string][] = [];
  rows.push(['LocalBucket, one thread', timeTakes(new LocalBucket(LIMITS)).toFixed(1)]);
  rows.push(['shared table, one thread', timeTakes(tableBucket({ table, identity: 'alone' })).toFixed(1)]);
  const same = await inThreads([{ table, identity: 'same' }, { table, identity: 'same' }]);
  rows.push(['shared table, 2 threads on one bucket', same.map((ns) => ns.toFixed(1)).join(' / ')]);
  const apart = await inThreads([{ table, identity: 'a' }, { table, identity: 'b' }]);
  rows.push(['shared table, 2 threads on two buckets', apart.map((ns) => ns.toFixed(1)).join(' / ')]);
  for (const [name, ns] of rows) process.stdout.write(`${name.padEnd(42)} ${ns} ns/take\n`);
}

if (isMainThread) void main();
else parentPort!.postMessage(timeTakes(tableBucket(workerData as Job)));
