/**
 * Measures the per-object heap costs entrySize (src/cache/entry.ts) is built on, on the Node that
 * runs it: `node --expose-gc dist/bench/entry-overhead.js`. Each figure is heap used after full
 * GCs, divided by the number of objects kept (20k–1M), minus the slot of the array keeping them.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heapUsed(): number {
  for (let i = 0; i < 6; i++) gc!();
  return process.memoryUsage().heapUsed;
}

function perObject(count: number, make: (i: number) => unknown): number {
  const keep = new Array<unknown>(count);
  const before = heapUsed();
  for (let i = 0; i < count; i++) keep[i] = make(i);
  const after = heapUsed();
  if (keep.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

const now = Date.now();
const HEAD_BLOCK = Symbol('headBlock');
const rows: [string, number][] = [];
const row = (name: string, bytes: number) => rows.push([name, Math.round(bytes * 10) / 10]);

row('entry object (8 fields, 3 HeapNumber times)', perObject(50_000, (i) => ({ version: 1, statusCode: 200, headers: null, body: null, storedAt: now + i, staleAt: now + i + 1, deleteAt: now + i + 2, tags: null })));
row('entry object + head block property', perObject(50_000, (i) => {
  const entry = { version: 1, statusCode: 200, headers: null, body: null, storedAt: now + i, staleAt: now + i + 1, deleteAt: now + i + 2, tags: null };
  Object.defineProperty(entry, HEAD_BLOCK, { value: 'x', enumerable: false });
  return entry;
}));
row('LRU node (5 fields)', perObject(50_000, (i) => ({ key: 'k', entry: null, size: i, newer: undefined, older: undefined })));
row('Buffer.allocUnsafeSlow(1), JS side', perObject(50_000, () => Buffer.allocUnsafeSlow(1)));
row('[name, value] pair built at run time', perObject(50_000, (i) => [String(i & 1), String(i & 2)]));
row('one-byte string, 100 chars', perObject(50_000, (i) => JSON.parse(JSON.stringify('x'.repeat(90) + String(i).padStart(10, '0'))) as string));
row('two-byte string, 100 chars', perObject(50_000, (i) => JSON.parse(JSON.stringify('\u2603'.repeat(90) + String(i).padStart(10, '0'))) as string));
row('ConsString a + b (each part kept too)', perObject(50_000, (i) => `${'y'.repeat(50)}${i}` + `${'z'.repeat(50)}${i}`));
row('Set with one member (tag index record)', perObject(50_000, () => new Set([0])));
/** Map slots alone (keys made first); a table just past a power of two has doubled its capacity. */
function mapSlot(size: number): number {
  const keys = Array.from({ length: size }, (_, i) => `k${i}`);
  const value = {};
  const before = heapUsed();
  const map = new Map<string, object>();
  for (const key of keys) map.set(key, value);
  return (heapUsed() - before) / map.size;
}
for (const size of [1000, 65_536, 65_537, 1_000_000]) row(`Map slot, ${size} entries`, mapSlot(size));

console.log(`Node ${process.version} ${process.arch}\n`);
for (const [name, bytes] of rows) console.log(`${name.padEnd(46)} ${String(bytes).padStart(7)} B`);
