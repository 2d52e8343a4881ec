/**
 * Attacks on the off-heap shared memory store (src/cache/stores/shared/, issue 17): what an
 * outsider who read the code can make it do by choosing keys.
 *
 * 1. Hash flooding (SPEC §7 "No per-request work grows with history (… keys seen)"). The index
 *    is an open-addressing table with linear probing. If its hash is a public function (FNV-1a
 *    seeded with the stage's generation, a small counter), an outsider crafts thousands of keys
 *    with one home cell (a multicollision: FNV works byte by byte, so chaining two-way collisions
 *    of 4-byte blocks gives 2^n keys) and the table grows one cluster as long as the keys sent:
 *    every later probe landing in it — any key's get or set, on every thread, under the store's
 *    one lock — walks it. Building 8k such keys costs O(n²) probes already.
 * 2. Decoded copies (SPEC §7 "Every byte an entry keeps counts …; budget + 256 MiB … whatever the
 *    keys"). Each thread keeps decoded copies of recently read entries, bounded by the bytes of
 *    the encoded entry only: the key (up to 8 KiB, the name of the copy in the thread's map) and
 *    the decoded objects are not counted, and the copies outlive the entry's eviction. Tiny
 *    answers under long keys, each fetched twice, pin ~8 KiB of heap per ~40 counted bytes.
 * 3. Keys that are not well-formed UTF-16 (lone surrogates) were encoded with Buffer.write, which
 *    turns every lone surrogate into U+FFFD: two different keys shared one entry.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { stageId } from '../../src/cache/store.js';
import { keyedHash } from '../../src/cache/stores/shared/arena.js';
import { STAGE_GENERATION, STAGE_INT_STRIDE } from '../../src/cache/stores/shared/layout.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const STAGE = stageId('public', 'prod');
const MiB = 1024 * 1024;

function entry(body = ''): CacheEntry {
  return { version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [], body: Buffer.from(body), storedAt: 0, staleAt: 1e15, deleteAt: 1e15 };
}

/** FNV-1a as the store used to hash keys (seeded with the stage's generation). */
function fnvStep(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/**
 * 2^rounds ASCII keys `prefix + blocks` whose FNV-1a hashes under `seed` agree in their low 16 bits,
 * so they share one home cell in any table of up to 65536 cells. FNV's low bits depend only on
 * the low bits of the state and of the input, so each round is a birthday search over 16 bits
 * (a few hundred tries) for two 4-char blocks taking the current state to one low half.
 */
function multicollision(prefix: string, seed: number, rounds: number): string[] {
  const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let state = fnvStep((0x811c9dc5 ^ seed) >>> 0, prefix);
  const pairs: [string, string][] = [];
  let counter = 0;
  for (let round = 0; round < rounds; round++) {
    const seen = new Map<number, string>();
    for (;;) {
      let n = counter++;
      let block = '';
      for (let i = 0; i < 4; i++, n = Math.floor(n / ALPHABET.length)) block += ALPHABET[n % ALPHABET.length];
      const next = fnvStep(state, block) & 0xffff;
      const other = seen.get(next);
      if (other !== undefined && other !== block) {
        pairs.push([other, block]);
        state = fnvStep(state, block);
        break;
      }
      seen.set(next, block);
    }
    counter = (round + 1) * 7919; // a different walk of the block space each round
  }
  let keys = [prefix];
  for (const [a, b] of pairs) keys = keys.flatMap((key) => [key + a, key + b]);
  return keys;
}

/** Longest run of occupied cells in the store's hash table: what one probe may have to walk. */
function longestCluster(store: SharedStore): number {
  const table = new Int32Array(store.buffers.table);
  let longest = 0;
  let run = 0;
  // Twice round, so a run wrapping past the end is counted whole.
  for (let i = 0; i < table.length * 2; i++) {
    if (table[i % table.length] !== 0) longest = Math.max(longest, ++run);
    else run = 0;
  }
  return Math.min(longest, table.length);
}

describe('off-heap store: hash flooding', () => {
  it('keys crafted to collide under the store\'s public hash do not pile up in one probe cluster', () => {
    const store = new SharedStore({ arenaBytes: 16 * MiB });
    store.configureStage(STAGE, 16 * MiB);
    const generation = new Int32Array(store.buffers.stageInts)[0 * STAGE_INT_STRIDE + STAGE_GENERATION]!;
    // What the cache key of `GET /items/{id}` looks like; the id is the attacker's.
    const keys = multicollision('GET|11:/items/{id}|p2:id', generation, 13).map((key) => `${key}|q0*`);
    assert.equal(keys.length, 8192);
    assert.equal(new Set(keys).size, keys.length);
    const started = process.hrtime.bigint();
    for (const key of keys) store.set(STAGE, key, entry('x'));
    const setMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(store.stats(STAGE)!.entries, keys.length);
    const cluster = longestCluster(store);
    // Random hashes at this load (8k of 32k cells) give clusters of a few dozen cells.
    assert.ok(cluster < 256, `one probe cluster of ${cluster} cells (8192 crafted keys stored in ${setMs.toFixed(0)} ms)`);
    // And the keys still work as keys.
    for (const key of keys.slice(0, 64)) assert.ok(store.get(STAGE, key));
  });

  it('the keyed hash is HalfSipHash: the reference implementation\'s vectors (2-4, 32-bit tag, key 00..07, input 00..len-1)', () => {
    const vectors = ['a9359f5b', '27475ab8', 'fa62a603', '8afee704', '2a6e4689', 'c5fab669', '5863fc23', '8bcf63c5'];
    vectors.forEach((expected, length) => {
      const input = Uint8Array.from({ length }, (_, i) => i);
      const tag = Buffer.alloc(4);
      tag.writeInt32LE(keyedHash(input, length, 0x03020100, 0x07060504, 2, 4));
      assert.equal(tag.toString('hex'), expected, `length ${length}`);
    });
  });

  it('two stores (two gateway processes) do not hash alike: a collision found against one is not one against the other', () => {
    const a = new SharedStore({ arenaBytes: 16 * MiB });
    const b = new SharedStore({ arenaBytes: 16 * MiB });
    a.configureStage(STAGE, 16 * MiB);
    b.configureStage(STAGE, 16 * MiB);
    for (let i = 0; i < 64; i++) {
      a.set(STAGE, `k${i}`, entry());
      b.set(STAGE, `k${i}`, entry());
    }
    assert.notDeepEqual(new Int32Array(a.buffers.table), new Int32Array(b.buffers.table));
  });
});

describe('off-heap store: per-thread decoded copies', () => {
  it('tiny answers under long keys, each read twice, do not pin the keys on the heap beyond a fixed bound', () => {
    const store = new SharedStore({ arenaBytes: 16 * MiB });
    // A small stage: what the thread keeps must not depend on what the stage still holds.
    store.configureStage(STAGE, 256 * 1024);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 6000; i++) {
      // A flat 8000-character key (MAX_CACHE_KEY_LENGTH is 8192), as a long keyed path or query value gives.
      const key = randomBytes(4000).toString('hex');
      store.set(STAGE, key, entry());
      store.get(STAGE, key);
    }
    gc();
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    assert.ok(retained < 8 * MiB, `the thread's decoded copies keep ${(retained / MiB).toFixed(1)} MiB of heap after 6000 tiny entries under 8 KB keys`);
    // The copies still serve: a hit right after a read is the same answer.
    const key = 'hot';
    store.set(STAGE, key, entry('hot body'));
    assert.equal(store.get(STAGE, key)!.body.toString(), 'hot body');
    assert.equal(store.get(STAGE, key)!.body.toString(), 'hot body');
  });
});

describe('off-heap store: keys are compared as the strings they are', () => {
  it('keys differing only in lone surrogates are different entries', () => {
    const store = new SharedStore({ arenaBytes: 16 * MiB });
    store.configureStage(STAGE, MiB);
    const keys = ['k\ud800', 'k\udbff', 'k\udc00', 'k\ufffd', 'k\ud800\ud800', 'k\ud800\udc00', 'k\udc00\ud800'];
    for (const key of keys) store.set(STAGE, key, entry(`body of ${JSON.stringify(key)}`));
    for (const key of keys) assert.equal(store.get(STAGE, key)?.body.toString(), `body of ${JSON.stringify(key)}`, `key ${JSON.stringify(key)}`);
    store.delete(STAGE, 'k\ud800');
    assert.equal(store.get(STAGE, 'k\ud800'), undefined);
    assert.equal(store.get(STAGE, 'k\udbff')?.body.toString(), `body of ${JSON.stringify('k\udbff')}`);
  });
});

describe('off-heap store: one stage cannot starve another', () => {
  it('tiny entries in one stage, within its budget, do not evict another stage\'s entries (the record table is no tighter bound than the bytes)', () => {
    // Two stages whose budgets add up to the arena, as memoryArenaBytes sizes it from the config.
    const store = new SharedStore({ arenaBytes: 16 * MiB });
    const victim = stageId('tenant-b', 'prod');
    store.configureStage(STAGE, 8 * MiB);
    store.configureStage(victim, 8 * MiB);
    for (let i = 0; i < 200; i++) store.set(victim, `b${i}`, entry('b'.repeat(1000)));
    // The outsider's stage: 30k distinct tiny answers (an empty 404 per random path), ~190 B each counted.
    for (let i = 0; i < 30_000; i++) store.set(STAGE, `GET|/public/${i}`, entry());
    const a = store.stats(STAGE)!;
    assert.ok(a.bytes <= 8 * MiB);
    const b = store.stats(victim)!;
    assert.deepEqual({ entries: b.entries, evictions: b.evictions }, { entries: 200, evictions: 0 },
      `the other stage lost entries to ${a.entries} tiny entries using ${(a.bytes / MiB).toFixed(1)} MiB of its 8 MiB`);
  });
});

describe('off-heap store: one stage never answers for another', () => {
  /*
   * The lock-free hit (getKnown) looks the stage's slot up without the lock, and the directory
   * remembered what it found with the slot's epoch read *after* the name matched. Another thread
   * dropping that stage and creating another in the same slot in between (a control-plane change)
   * left this thread sure, for good, that the old name lives in the new stage's slot: requests of
   * the dropped API's stage were answered from — and stored into — another API's cache (the key
   * does not hold the API or stage, SPEC §5). The interleaving is forced here: the other thread's
   * drop and create run from inside this thread's unlocked name comparison.
   */
  it('a directory lookup racing a drop and a create in the same slot does not map the old name to the new stage', () => {
    const mine = new SharedStore({ arenaBytes: 16 * MiB });
    const other = SharedStore.attach(mine.buffers);
    const dropped = stageId('old-api', 'prod');
    const created = stageId('private-api', 'prod');
    other.configureStage(dropped, MiB);
    const directory = (mine as unknown as { stages: { nameEquals(slot: number, bytes: Buffer): boolean } }).stages;
    const nameEquals = directory.nameEquals.bind(directory);
    let armed = true;
    directory.nameEquals = (slot, bytes) => {
      const equal = nameEquals(slot, bytes);
      if (armed) {
        armed = false;
        other.dropStage(dropped);
        other.configureStage(created, MiB);
      }
      return equal;
    };
    assert.equal(mine.get(dropped, 'GET|/account'), undefined);
    other.set(created, 'GET|/account', entry('private answer of another API'));
    assert.equal(mine.get(dropped, 'GET|/account')?.body.toString(), undefined, 'the dropped stage answered from the new stage\'s space');
    mine.set(dropped, 'GET|/planted', entry('planted'));
    assert.equal(other.get(created, 'GET|/planted'), undefined, 'a write for the dropped stage landed in the new stage\'s space');
    assert.equal(mine.stats(dropped), undefined);
  });
});

describe('off-heap store: keys longer than any stored key', () => {
  /*
   * The flow stores no key over MAX_CACHE_KEY_LENGTH, but looks every key up: a keyed JSON body
   * value makes a key as long as the body (64 KiB before authentication, 10 MiB after). The store
   * encoded such a key into a per-thread scratch buffer of 3 bytes per character that it kept for
   * good (30 MiB per thread after one 10 MiB key), and hashed it while holding the lock every
   * thread waits on.
   */
  it('a lookup with a key longer than MAX_CACHE_KEY_LENGTH misses without growing what the thread keeps', () => {
    const store = new SharedStore({ arenaBytes: 16 * MiB });
    store.configureStage(STAGE, MiB);
    store.get(STAGE, 'warm');
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const key = `POST|5:/rpc|j7:["q"]${'x'.repeat(4_000_000)}`;
    assert.equal(store.get(STAGE, key), undefined);
    store.set(STAGE, key, entry('never stored'));
    assert.equal(store.get(STAGE, key), undefined);
    assert.equal(store.stats(STAGE)!.entries, 0);
    store.delete(STAGE, key);
    gc();
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < MiB, `the thread keeps ${(grown / MiB).toFixed(1)} MiB more after one lookup of a 4M-character key`);
  });
});

describe('off-heap store: pruning one space', () => {
  /*
   * The Alibaba policy prunes a full plug-in space (at most once a second per space) on the
   * request path, and SharedStore.pruneExpired walks every record the store has used, whatever
   * space holds it: ~30 ns a record, so a public stage filled with tiny answers (up to arena /
   * 184 B records) makes every such prune block its thread's event loop for tens to hundreds of
   * ms (500k records: ~15 ms). Not fixed: a per-space walk needs its own chunked list walk.
   */
  it('costs in proportion to that space, not to the records of every other space', { todo: 'pruneExpired and purge walk all records store-wide (O(records used)); a per-space walk is a larger change' }, () => {
    const lonely = new SharedStore({ arenaBytes: 64 * MiB });
    const crowded = new SharedStore({ arenaBytes: 64 * MiB });
    const space = stageId('alibaba', 'prod\u0000plugin\u0000p\u0000app');
    for (const store of [lonely, crowded]) {
      store.configureStage(STAGE, 64 * MiB);
      store.configureStage(space, MiB);
      for (let i = 0; i < 10; i++) store.set(space, `k${i}`, entry('v'));
    }
    for (let i = 0; i < 200_000; i++) crowded.set(STAGE, `GET|/tiny/${i}`, entry());
    const time = (store: SharedStore) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) store.pruneExpired(space);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    time(lonely);
    const alone = time(lonely);
    const beside = time(crowded);
    assert.ok(beside < alone * 20 + 2, `five prunes of a 10-entry space: ${beside.toFixed(2)} ms beside 200k other entries, ${alone.toFixed(2)} ms alone`);
  });
});
