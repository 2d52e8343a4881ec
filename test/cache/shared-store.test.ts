/** SharedStore: the store contract, plus what only the off-heap store promises. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { stageId } from '../../src/cache/store.js';
import { RECORD_OVERHEAD_BYTES } from '../../src/cache/stores/shared/layout.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('SharedStore', ({ now }) => new SharedStore({ now, arenaBytes: 8 << 20 }));

const STAGE = stageId('petstore', 'prod');
const OTHER = stageId('petstore', 'dev');

function entry(body: string | Buffer, deleteAt = 1e15, tags?: string[]): CacheEntry {
  return {
    version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'text/plain']],
    body: typeof body === 'string' ? Buffer.from(body) : body, storedAt: 0, staleAt: deleteAt / 2, deleteAt,
    ...(tags ? { tags } : {}),
  };
}

describe('SharedStore', () => {
  it('answers synchronously', () => {
    const store = new SharedStore({ arenaBytes: 1 << 20 });
    store.configureStage(STAGE, 1 << 20);
    assert.equal(store.set(STAGE, 'k', entry('v')), undefined);
    const found = store.get(STAGE, 'k');
    assert.ok(found !== undefined && !(found instanceof Promise));
  });

  it('counts exactly the shared memory an entry holds: its blocks plus its record', () => {
    const store = new SharedStore({ arenaBytes: 1 << 20, blockBytes: 64 });
    store.configureStage(STAGE, 1 << 20);
    store.set(STAGE, 'k', entry('x'.repeat(1000)));
    const bytes = store.stats(STAGE)!.bytes;
    // Whole blocks: a multiple of the block size, plus the fixed record overhead.
    assert.equal((bytes - RECORD_OVERHEAD_BYTES) % 64, 0, `${bytes}`);
    // Key, head and body, rounded up to whole blocks: under one block of waste.
    assert.ok(bytes >= 1000 + RECORD_OVERHEAD_BYTES && bytes < 1000 + RECORD_OVERHEAD_BYTES + 64 + 100, `${bytes}`);
  });

  it('a read entry is the reader\'s own copy: flushing and overwriting the arena never changes it (a slow socket write pins nothing)', () => {
    const store = new SharedStore({ arenaBytes: 64 * 1024, blockBytes: 64 });
    store.configureStage(STAGE, 64 * 1024);
    store.set(STAGE, 'k', entry(Buffer.alloc(8000, 'a')));
    const held = store.get(STAGE, 'k')!;
    store.flush(STAGE);
    for (let i = 0; i < 40; i++) store.set(STAGE, `other${i}`, entry(Buffer.alloc(8000, 'z')));
    assert.ok(held.body.equals(Buffer.alloc(8000, 'a')), 'the held body still reads as written');
    assert.ok(store.stats(STAGE)!.bytes <= 64 * 1024);
  });

  it('keeps the arena within its size when stage budgets add up to more: other stages give way, counted as their evictions', () => {
    const store = new SharedStore({ arenaBytes: 64 * 1024, blockBytes: 64 });
    store.configureStage(STAGE, 60 * 1024);
    store.configureStage(OTHER, 60 * 1024);
    for (let i = 0; i < 12; i++) store.set(STAGE, `p${i}`, entry(Buffer.alloc(4000, 'p')));
    for (let i = 0; i < 12; i++) store.set(OTHER, `d${i}`, entry(Buffer.alloc(4000, 'd')));
    const prod = store.stats(STAGE)!;
    const dev = store.stats(OTHER)!;
    const blockBytes = prod.bytes + dev.bytes - (prod.entries + dev.entries) * RECORD_OVERHEAD_BYTES;
    assert.ok(blockBytes <= 64 * 1024, `${blockBytes} bytes of blocks`);
    assert.ok(prod.evictions > 0, 'prod gave way to dev');
    assert.ok(store.get(OTHER, 'd11'), 'the newest write is stored');
  });

  it('bounds entries by maxEntries, evicting the oldest', () => {
    const store = new SharedStore({ arenaBytes: 1 << 20, maxEntries: 8 });
    store.configureStage(STAGE, 1 << 20);
    for (let i = 0; i < 20; i++) store.set(STAGE, `k${i}`, entry('v'));
    assert.equal(store.stats(STAGE)!.entries, 8);
    assert.equal(store.get(STAGE, 'k0'), undefined);
    assert.ok(store.get(STAGE, 'k19'));
  });

  it('past its stage slots creates no space and never throws (plug-in spaces are made on the request path); a freed slot is reused', () => {
    const store = new SharedStore({ arenaBytes: 1 << 20, maxStages: 2 });
    store.configureStage('a', 4096);
    store.configureStage('b', 4096);
    assert.doesNotThrow(() => store.configureStage('c', 4096));
    store.set('c', 'k', entry('v'));
    assert.equal(store.get('c', 'k'), undefined, 'a space that could not be made stores nothing');
    assert.equal(store.stats('c'), undefined);
    store.set('a', 'k', entry('a'));
    assert.equal(store.get('a', 'k')?.body.toString(), 'a', 'the others keep serving');
    store.dropStage('a');
    store.configureStage('c', 4096);
    assert.equal(store.stats('c')?.capacityBytes, 4096);
  });

  it('keeps spaces with names longer than a slot holds apart (stored by digest)', () => {
    const store = new SharedStore({ arenaBytes: 1 << 20 });
    const long = (app: string) => `${STAGE}\u0000plugin\u0000p\u0000${'x'.repeat(600)}${app}`;
    store.configureStage(long('1'), 4096);
    store.configureStage(long('2'), 4096);
    store.set(long('1'), 'k', entry('one'));
    store.set(long('2'), 'k', entry('two'));
    assert.equal(store.get(long('1'), 'k')?.body.toString(), 'one');
    assert.equal(store.get(long('2'), 'k')?.body.toString(), 'two');
  });

  it('flushes a large stage in O(1) and reclaims the flushed entries as it writes again', () => {
    const store = new SharedStore({ arenaBytes: 4 << 20, maxEntries: 50_000 });
    store.configureStage(STAGE, 4 << 20);
    for (let i = 0; i < 20_000; i++) store.set(STAGE, `k${i}`, entry('x'));
    store.flush(STAGE);
    assert.equal(store.stats(STAGE)!.entries, 0);
    assert.equal(store.get(STAGE, 'k19999'), undefined);
    // Writing again reuses the flushed entries' room: the arena never runs out.
    // (20,000 + 20,000 one-block entries are more blocks than the arena has.)
    for (let i = 0; i < 20_000; i++) store.set(STAGE, `n${i}`, entry('y'));
    assert.equal(store.stats(STAGE)!.evictions, 0);
    assert.equal(store.stats(STAGE)!.entries, 20_000);
    assert.ok(store.get(STAGE, 'n0'));
  });

  it('invariant: every read is the latest write of its key or nothing, and the budget holds, for generated operation sequences', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: 15 }), size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 6000 })), stage: fc.boolean() }),
      fc.record({ op: fc.constant('get' as const), key: fc.integer({ min: 0, max: 15 }), stage: fc.boolean() }),
      fc.record({ op: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 15 }), stage: fc.boolean() }),
      fc.record({ op: fc.constant('purge' as const), key: fc.integer({ min: 0, max: 15 }), stage: fc.boolean() }),
      fc.record({ op: fc.constant('flush' as const), stage: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(operation, { maxLength: 120 }), fc.integer({ min: 16, max: 256 }), (operations, blockBytes) => {
      const store = new SharedStore({ arenaBytes: 24 * 1024, blockBytes, maxEntries: 24 });
      store.configureStage(STAGE, 16 * 1024);
      store.configureStage(OTHER, 12 * 1024);
      // The latest write of each key per stage (undefined after delete/flush/purge): a read may miss, never be older.
      const latest = new Map<string, string | undefined>();
      let writes = 0;
      for (const step of operations) {
        const stage = step.stage ? STAGE : OTHER;
        if (step.op === 'flush') {
          store.flush(stage);
          for (const name of latest.keys()) if (name.startsWith(stage)) latest.delete(name);
          continue;
        }
        const name = `${stage}|k${step.key}`;
        if (step.op === 'set') {
          const label = `w${writes++}|`;
          store.set(stage, `k${step.key}`, entry(label.padEnd(step.size, '.'), 1e15, [`tag${step.key}`]));
          latest.set(name, label.padEnd(step.size, '.'));
        } else if (step.op === 'get') {
          const found = store.get(stage, `k${step.key}`);
          if (found !== undefined) assert.equal(found.body.toString(), latest.get(name), `k${step.key} reads its latest write`);
        } else if (step.op === 'delete') {
          store.delete(stage, `k${step.key}`);
          latest.delete(name);
        } else {
          store.purge(stage, { tags: [`tag${step.key}`] });
          latest.delete(name);
        }
        for (const space of [STAGE, OTHER]) {
          const stats = store.stats(space)!;
          assert.ok(stats.bytes <= stats.capacityBytes && stats.bytes >= 0 && stats.entries >= 0);
        }
        assert.ok(store.stats(STAGE)!.bytes + store.stats(OTHER)!.bytes <= 24 * 1024 + 24 * RECORD_OVERHEAD_BYTES, 'the arena holds what it says');
      }
    }), { seed: 0x0ff4ea9, numRuns: 150 });
  });

  it('invariant: an entry reads back exactly as stored — status, headers in order, tags, times, body — whatever Node thinks of its headers', () => {
    // Header values as a backend may send them: `: ` and `\r\n`-free Latin-1 (stored as the lines a
    // hit writes, read back by splitting them), and values Node refuses (wider than Latin-1,
    // control characters: kept in the encoded entry instead), names that frame the message, and
    // statuses without a body.
    const latin1 = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code === 0x7f ? 0x7e : code)), maxLength: 40 });
    const value = fc.oneof(latin1, fc.constantFrom('', ' padded ', 'a: b', 'x\u0100y', 'tab\there', 'bad\u0001char', ': : :'));
    const name = fc.oneof(fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/), fc.constantFrom('date', 'etag', 'content-type', 'set-cookie', 'transfer-encoding', 'bad name'));
    const stored = fc.record({
      statusCode: fc.constantFrom(200, 203, 204, 206, 304, 404, 500, 599),
      headers: fc.array(fc.tuple(name, value), { maxLength: 8 }),
      body: fc.uint8Array({ maxLength: 600 }),
      tags: fc.option(fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 4 }), { nil: undefined }),
      sealed: fc.option(fc.string({ maxLength: 12 }).map((keyId) => ({ keyId })), { nil: undefined }),
      storedAt: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    fc.assert(fc.property(stored, fc.integer({ min: 16, max: 256 }), (generated, blockBytes) => {
      const store = new SharedStore({ arenaBytes: 1 << 20, blockBytes });
      store.configureStage(STAGE, 1 << 20);
      const written: CacheEntry = {
        version: CACHE_ENTRY_VERSION, statusCode: generated.statusCode, headers: generated.headers, body: Buffer.from(generated.body),
        storedAt: generated.storedAt, staleAt: generated.storedAt + 1000, deleteAt: 1e15,
        ...(generated.tags ? { tags: generated.tags } : {}), ...(generated.sealed ? { sealed: generated.sealed } : {}),
      };
      store.set(STAGE, 'k', written);
      // Twice: the first read copies out of the arena, the second may be the thread's kept copy.
      for (const found of [store.get(STAGE, 'k')!, store.get(STAGE, 'k')!]) {
        assert.equal(found.statusCode, written.statusCode);
        assert.deepEqual([...found.headers].map(([n, v]) => [n, v]), written.headers);
        assert.deepEqual(found.tags, written.tags);
        assert.deepEqual(found.sealed, written.sealed);
        assert.deepEqual([found.version, found.storedAt, found.staleAt, found.deleteAt], [written.version, written.storedAt, written.staleAt, written.deleteAt]);
        assert.ok(found.body.equals(written.body));
      }
    }), { seed: 0x5eade7, numRuns: 300 });
  });
});
