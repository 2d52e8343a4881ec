/**
 * The CacheStore contract (STYLE.md practice 3): every store — memory, encrypted, Redis — runs
 * this suite. Every call is awaited, so synchronous and promise-returning stores both pass; time
 * is driven through the injected clock, never slept. A store that cannot honour a case skips it
 * by name with a reason: `runStoreContract('redis', make, { skip: { 'lru-eviction': 'why' } })`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { stageId, type CacheStore } from '../../src/cache/store.js';
import { MAX_CACHE_KEY_LENGTH } from '../../src/cache/limits.js';
import { entryTags, MAX_BACKEND_TAGS, MAX_PATH_TAG_DEPTH } from '../../src/cache/tags.js';

export const STORE_CONTRACT_CASES = [
  'roundtrip',
  'absent',
  'replace',
  'delete',
  'expiry',
  'expired-set',
  'lru-eviction',
  'eviction-by-bytes',
  'oversize',
  'stage-isolation',
  'flush',
  'configure-stage',
  'drop-stage',
  'unconfigured-stage',
  'stats',
  'purge-tag',
  'purge-path',
  'purge-in-step',
  'long-key',
  'budget-adversarial',
  'purge-long-path',
] as const;
export type StoreContractCase = (typeof STORE_CONTRACT_CASES)[number];

export interface StoreContractOptions {
  /** Cases this store cannot honour, each with the reason shown in the test report. */
  skip?: Partial<Record<StoreContractCase, string>>;
}

export type MakeStore = (options: { now: () => number }) => CacheStore | Promise<CacheStore>;

const START = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
/** Bodies this large make the byte budget of a few entries insensitive to a store's per-entry overhead. */
const UNIT = 16 * 1024;

let spaceCounter = 0;
/** A stage space no other test (nor a shared Redis) uses. */
function freshStage(name = 'prod'): string {
  return stageId(`contract-${process.pid}-${++spaceCounter}-${randomBytes(3).toString('hex')}`, name);
}

function entry(body: Buffer | string, options: Partial<CacheEntry> & { at?: number } = {}): CacheEntry {
  const at = options.at ?? START;
  return {
    version: CACHE_ENTRY_VERSION,
    statusCode: options.statusCode ?? 200,
    headers: options.headers ?? [['content-type', 'text/plain']],
    body: typeof body === 'string' ? Buffer.from(body) : body,
    storedAt: options.storedAt ?? at,
    staleAt: options.staleAt ?? at + 5 * MINUTE,
    deleteAt: options.deleteAt ?? at + 10 * MINUTE,
    ...(options.tags === undefined ? {} : { tags: options.tags }),
  };
}

/** Purge tags as the cache step makes them: the backend's Surrogate-Key, then the path's. */
function tagged(path: string, surrogateKey = ''): readonly string[] {
  return entryTags(path, surrogateKey === '' ? {} : { 'surrogate-key': surrogateKey });
}

function sized(fill: string): Buffer {
  return Buffer.alloc(UNIT, fill);
}

export function runStoreContract(name: string, makeStore: MakeStore, options: StoreContractOptions = {}): void {
  describe(`CacheStore contract: ${name}`, () => {
    const clock = { now: START };
    const open: CacheStore[] = [];
    const make = async (): Promise<CacheStore> => {
      clock.now = START;
      const store = await makeStore({ now: () => clock.now });
      open.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });
    const test = (id: StoreContractCase, title: string, body: () => Promise<void>) => {
      const reason = options.skip?.[id];
      it(`${id}: ${title}`, reason === undefined ? {} : { skip: reason }, body);
    };

    test('roundtrip', 'returns what was stored: status, headers in order, binary body, times', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      const body = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      const stored = entry(body, {
        statusCode: 203,
        headers: [['content-type', 'application/octet-stream'], ['x-multi', 'a'], ['x-multi', 'b'], ['x-utf8', 'caf\u00e9 \u2603']],
      });
      await store.set(stage, 'GET|5:/pets', stored);
      const found = await store.get(stage, 'GET|5:/pets');
      assert.ok(found, 'the entry is found');
      assert.equal(found.statusCode, 203);
      assert.deepEqual(found.headers, stored.headers);
      assert.ok(found.body.equals(body), 'the body comes back byte for byte');
      assert.equal(found.storedAt, stored.storedAt);
      assert.equal(found.staleAt, stored.staleAt);
      assert.equal(found.deleteAt, stored.deleteAt);
      assert.equal(found.version, CACHE_ENTRY_VERSION);
      const empty = entry(Buffer.alloc(0), { statusCode: 204, headers: [] });
      await store.set(stage, 'empty', empty);
      const foundEmpty = await store.get(stage, 'empty');
      assert.equal(foundEmpty?.body.length, 0);
      assert.equal(foundEmpty?.statusCode, 204);
    });

    test('absent', 'a key never stored, or a stage never configured, is a miss', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      assert.equal(await store.get(stage, 'nothing'), undefined);
      assert.equal(await store.get(freshStage(), 'nothing'), undefined);
      await store.delete(stage, 'nothing'); // deleting what is not there is fine
    });

    test('replace', 'a second set under one key replaces the first', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      await store.set(stage, 'k', entry('first'));
      await store.set(stage, 'k', entry('second', { statusCode: 201 }));
      const found = await store.get(stage, 'k');
      assert.equal(found?.body.toString(), 'second');
      assert.equal(found?.statusCode, 201);
      assert.equal(store.stats(stage)?.entries, 1);
    });

    test('delete', 'a deleted entry is gone; others stay', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      await store.set(stage, 'a', entry('a'));
      await store.set(stage, 'b', entry('b'));
      await store.delete(stage, 'a');
      assert.equal(await store.get(stage, 'a'), undefined);
      assert.equal((await store.get(stage, 'b'))?.body.toString(), 'b');
    });

    test('expiry', 'an entry is returned until deleteAt (stale or not), and never from deleteAt on', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      await store.set(stage, 'k', entry('v', { staleAt: START + MINUTE, deleteAt: START + 2 * MINUTE }));
      clock.now = START + MINUTE + 1; // stale: the store does not judge freshness, policy does
      assert.equal((await store.get(stage, 'k'))?.body.toString(), 'v');
      clock.now = START + 2 * MINUTE - 1;
      assert.equal((await store.get(stage, 'k'))?.body.toString(), 'v');
      clock.now = START + 2 * MINUTE;
      assert.equal(await store.get(stage, 'k'), undefined);
      clock.now = START; // the clock going back does not bring it back either
      assert.equal(await store.get(stage, 'k'), undefined);
    });

    test('expired-set', 'an entry stored already past deleteAt is never returned', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      clock.now = START + 20 * MINUTE;
      await store.set(stage, 'k', entry('v'));
      assert.equal(await store.get(stage, 'k'), undefined);
    });

    test('lru-eviction', 'when the byte budget is full, the least recently used entry goes', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, Math.floor(3.5 * UNIT)); // room for three
      await store.set(stage, 'a', entry(sized('a')));
      await store.set(stage, 'b', entry(sized('b')));
      await store.set(stage, 'c', entry(sized('c')));
      clock.now += 1;
      assert.ok(await store.get(stage, 'a'), 'reading a makes it recently used');
      await store.set(stage, 'd', entry(sized('d')));
      assert.equal(await store.get(stage, 'b'), undefined, 'b was least recently used');
      for (const key of ['a', 'c', 'd']) assert.ok(await store.get(stage, key), `${key} stays`);
      assert.equal(store.stats(stage)?.evictions, 1);
      assert.equal(store.stats(stage)?.entries, 3);
    });

    test('eviction-by-bytes', 'the budget counts bytes, not entries: a large entry evicts several small ones', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, Math.floor(4.5 * UNIT));
      for (const key of ['a', 'b', 'c', 'd']) await store.set(stage, key, entry(sized(key)));
      await store.set(stage, 'big', entry(Buffer.alloc(3 * UNIT, 'z')));
      const left = [];
      for (const key of ['a', 'b', 'c', 'd']) if (await store.get(stage, key)) left.push(key);
      assert.deepEqual(left, ['d'], 'the three oldest made room');
      assert.equal((await store.get(stage, 'big'))?.body.length, 3 * UNIT);
      assert.equal(store.stats(stage)?.evictions, 3);
      assert.ok(store.stats(stage)!.bytes <= 4.5 * UNIT);
    });

    test('oversize', 'an entry larger than the whole budget is not stored, evicts nothing, and replaces an older one', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 4 * UNIT);
      await store.set(stage, 'small', entry('small'));
      await store.set(stage, 'k', entry('old answer'));
      await store.set(stage, 'k', entry(Buffer.alloc(5 * UNIT, 'x')));
      assert.equal(await store.get(stage, 'k'), undefined, 'neither the oversize entry nor the outdated one');
      assert.equal((await store.get(stage, 'small'))?.body.toString(), 'small', 'nothing was evicted for it');
      assert.equal(store.stats(stage)?.evictions, 0);
    });

    test('stage-isolation', 'one key in two stages names two entries', async () => {
      const store = await make();
      const prod = freshStage('prod');
      const dev = freshStage('dev');
      await store.configureStage(prod, 10 * UNIT);
      await store.configureStage(dev, 10 * UNIT);
      await store.set(prod, 'k', entry('prod'));
      await store.set(dev, 'k', entry('dev'));
      assert.equal((await store.get(prod, 'k'))?.body.toString(), 'prod');
      assert.equal((await store.get(dev, 'k'))?.body.toString(), 'dev');
      await store.delete(dev, 'k');
      assert.equal((await store.get(prod, 'k'))?.body.toString(), 'prod');
    });

    test('flush', 'flush empties one stage only, and the stage keeps working', async () => {
      const store = await make();
      const prod = freshStage('prod');
      const dev = freshStage('dev');
      await store.configureStage(prod, 10 * UNIT);
      await store.configureStage(dev, 10 * UNIT);
      for (let i = 0; i < 50; i++) await store.set(prod, `k${i}`, entry(`p${i}`));
      await store.set(dev, 'k0', entry('dev'));
      await store.flush(prod);
      for (const key of ['k0', 'k25', 'k49']) assert.equal(await store.get(prod, key), undefined);
      assert.equal(store.stats(prod)?.entries, 0);
      assert.equal(store.stats(prod)?.bytes, 0);
      assert.equal(store.stats(prod)?.capacityBytes, 10 * UNIT);
      assert.equal((await store.get(dev, 'k0'))?.body.toString(), 'dev');
      await store.set(prod, 'k0', entry('after'));
      assert.equal((await store.get(prod, 'k0'))?.body.toString(), 'after');
    });

    test('configure-stage', 'a new capacity starts a new, empty space; the same capacity keeps entries', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      await store.set(stage, 'k', entry('v'));
      await store.configureStage(stage, 10 * UNIT);
      assert.equal((await store.get(stage, 'k'))?.body.toString(), 'v');
      await store.configureStage(stage, 20 * UNIT);
      assert.equal(await store.get(stage, 'k'), undefined);
      assert.equal(store.stats(stage)?.capacityBytes, 20 * UNIT);
      assert.equal(store.stats(stage)?.entries, 0);
    });

    test('drop-stage', 'a dropped stage has no entries and no stats', async () => {
      const store = await make();
      const stage = freshStage();
      const other = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      await store.configureStage(other, 10 * UNIT);
      await store.set(stage, 'k', entry('v'));
      await store.set(other, 'k', entry('other'));
      await store.dropStage(stage);
      assert.equal(await store.get(stage, 'k'), undefined);
      assert.equal(store.stats(stage), undefined);
      assert.equal((await store.get(other, 'k'))?.body.toString(), 'other');
    });

    test('unconfigured-stage', 'a set on a stage never configured stores nothing (and does not throw)', async () => {
      const store = await make();
      const stage = freshStage();
      await store.set(stage, 'k', entry('v'));
      assert.equal(await store.get(stage, 'k'), undefined);
      assert.equal(store.stats(stage), undefined);
    });

    test('stats', 'entries and bytes follow sets, deletes and flushes', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      assert.deepEqual(
        { entries: store.stats(stage)?.entries, bytes: store.stats(stage)?.bytes, evictions: store.stats(stage)?.evictions },
        { entries: 0, bytes: 0, evictions: 0 },
      );
      await store.set(stage, 'a', entry(sized('a')));
      const one = store.stats(stage)!;
      assert.equal(one.entries, 1);
      assert.ok(one.bytes >= UNIT, `bytes count the body (${one.bytes})`);
      await store.set(stage, 'b', entry(sized('b')));
      assert.equal(store.stats(stage)?.entries, 2);
      assert.equal(store.stats(stage)?.bytes, 2 * one.bytes, 'same-sized entries count the same');
      await store.delete(stage, 'a');
      assert.equal(store.stats(stage)?.bytes, one.bytes);
      await store.flush(stage);
      assert.equal(store.stats(stage)?.entries, 0);
      assert.equal(store.stats(stage)?.bytes, 0);
      assert.equal(store.stats(stage)?.capacityBytes, 10 * UNIT);
    });

    test('purge-tag', 'a tag purge removes the entries carrying any of the tags, counts them, and leaves the rest', async () => {
      const store = await make();
      const stage = freshStage();
      const other = freshStage('dev');
      await store.configureStage(stage, 10 * UNIT);
      await store.configureStage(other, 10 * UNIT);
      await store.set(stage, 'a', entry('a', { tags: tagged('/pets/1', 'pet-1 pets') }));
      await store.set(stage, 'b', entry('b', { tags: tagged('/pets/2', 'pet-2 pets') }));
      await store.set(stage, 'c', entry('c', { tags: tagged('/toys/1', 'toy-1') }));
      await store.set(stage, 'd', entry('d'));
      await store.set(other, 'a', entry('other a', { tags: tagged('/pets/1', 'pet-1 pets') }));
      assert.equal(await store.purge(stage, { tags: ['pet-1'] }), 1);
      assert.equal(await store.get(stage, 'a'), undefined);
      assert.equal((await store.get(stage, 'b'))?.body.toString(), 'b');
      assert.equal(await store.purge(stage, { tags: ['nothing', 'toy-1', 'pets'] }), 2, 'any of the tags; an entry counts once');
      for (const key of ['b', 'c']) assert.equal(await store.get(stage, key), undefined);
      assert.equal((await store.get(stage, 'd'))?.body.toString(), 'd', 'an untagged entry stays');
      assert.equal((await store.get(other, 'a'))?.body.toString(), 'other a', 'another stage is untouched');
      assert.equal(store.stats(stage)?.entries, 1);
      assert.equal(await store.purge(stage, { tags: ['pet-1'] }), 0, 'a second purge finds nothing');
      assert.equal(await store.purge(stage, {}), 0, 'an empty match purges nothing');
      assert.equal(await store.purge(freshStage(), { tags: ['pets'] }), 0, 'a stage never configured');
    });

    test('purge-path', 'a path prefix purge removes entries under whole segments of the prefix', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      const paths = { pets: '/pets', pet1: '/pets/1', pet2: '/pets/2/photos', petshop: '/petshop/1', toys: '/toys/1', encoded: '/caf%C3%A9/menu' };
      for (const [key, path] of Object.entries(paths)) await store.set(stage, key, entry(key, { tags: tagged(path) }));
      assert.equal(await store.purge(stage, { pathPrefix: '/pets/' }), 3, '/pets, /pets/1, /pets/2/photos');
      for (const key of ['pets', 'pet1', 'pet2']) assert.equal(await store.get(stage, key), undefined, `${key} purged`);
      assert.equal((await store.get(stage, 'petshop'))?.body.toString(), 'petshop', 'not a segment prefix: stays');
      assert.equal(await store.purge(stage, { pathPrefix: '/café' }), 1, 'segments compare percent-decoded');
      assert.equal(await store.purge(stage, { pathPrefix: '/toys/1/more' }), 0);
      assert.equal(await store.purge(stage, { pathPrefix: '/' }), 2, 'the root covers every path');
      assert.equal(store.stats(stage)?.entries, 0);
    });

    test('purge-in-step', 'the tag index follows replace, delete, eviction, expiry and flush', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, Math.floor(3.5 * UNIT)); // room for three
      await store.set(stage, 'k', entry('old', { tags: ['old-tag'] }));
      await store.set(stage, 'k', entry('new', { tags: ['new-tag'] }));
      assert.equal(await store.purge(stage, { tags: ['old-tag'] }), 0, 'the replaced entry\'s tags went with it');
      assert.equal((await store.get(stage, 'k'))?.body.toString(), 'new');
      await store.delete(stage, 'k');
      assert.equal(await store.purge(stage, { tags: ['new-tag'] }), 0, 'a deleted entry is not counted');
      for (const key of ['a', 'b', 'c', 'd']) await store.set(stage, key, entry(sized(key), { tags: ['bulk'] }));
      assert.equal(store.stats(stage)?.evictions, 1);
      assert.equal(await store.purge(stage, { tags: ['bulk'] }), 3, 'the evicted entry is not counted');
      await store.set(stage, 'short', entry('short', { deleteAt: START + MINUTE, tags: ['short'] }));
      clock.now = START + 2 * MINUTE;
      assert.equal(await store.purge(stage, { tags: ['short'] }), 0, 'an entry past deleteAt is not counted');
      assert.equal(await store.get(stage, 'short'), undefined);
      await store.set(stage, 'f', entry('f', { at: clock.now, tags: ['flushed'] }));
      await store.flush(stage);
      assert.equal(await store.purge(stage, { tags: ['flushed'] }), 0, 'a flushed entry is not counted');
      await store.set(stage, 'g', entry('g', { at: clock.now, tags: ['flushed'] }));
      assert.equal(await store.purge(stage, { tags: ['flushed'] }), 1, 'the stage keeps purging after a flush');
    });

    test('long-key', `a key of ${MAX_CACHE_KEY_LENGTH} chars (multi-byte included) round-trips, and one differing in its last char is another entry`, async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      const stem = 'GET|p5:proxy' + 'caf\u00e9/\u2603/\ud83d\ude00/'.repeat(MAX_CACHE_KEY_LENGTH);
      const one = stem.slice(0, MAX_CACHE_KEY_LENGTH - 1) + 'a';
      const two = stem.slice(0, MAX_CACHE_KEY_LENGTH - 1) + 'b';
      await store.set(stage, one, entry('one'));
      await store.set(stage, two, entry('two'));
      assert.equal((await store.get(stage, one))?.body.toString(), 'one');
      assert.equal((await store.get(stage, two))?.body.toString(), 'two');
      assert.equal(store.stats(stage)?.entries, 2);
    });

    test('budget-adversarial', 'long multi-byte keys, the most and longest tags and many headers never make a space count more than its budget', async () => {
      const store = await make();
      const stage = freshStage();
      const capacity = 6 * UNIT;
      await store.configureStage(stage, capacity);
      const longPath = '/' + Array.from({ length: 12 }, (_, i) => `${i}-${'\u00e9%20'.repeat(120)}`).join('/');
      const surrogateKey = Array.from({ length: MAX_BACKEND_TAGS + 10 }, (_, i) => `${i}-${'t'.repeat(1000)}`).join(' ');
      const headers: [string, string][] = Array.from({ length: 40 }, (_, i) => [`x-h${i}`, '\u00e9'.repeat(200)]);
      let stored = 0;
      for (let i = 0; i < 24; i++) {
        const key = `GET|${i}|` + '\u2603'.repeat(MAX_CACHE_KEY_LENGTH - 10);
        await store.set(stage, key, entry(Buffer.alloc(i * 100), { headers, tags: entryTags(`/${i}${longPath}`, { 'surrogate-key': surrogateKey }) }));
        const stats = store.stats(stage)!;
        assert.ok(stats.bytes <= capacity, `bytes ${stats.bytes} <= ${capacity} after ${i + 1} sets`);
        if (await store.get(stage, key)) stored++;
      }
      assert.ok(stored > 0, 'entries at the bounds are stored');
      assert.ok(store.stats(stage)!.entries < 24, 'and they count enough to evict one another');
    });

    test('purge-long-path', 'a prefix of a long path (tagged by its hash) purges it, however the prefix is spelled', async () => {
      const store = await make();
      const stage = freshStage();
      await store.configureStage(stage, 10 * UNIT);
      const segment = 'caf\u00e9 '.repeat(60);
      const encoded = encodeURIComponent(segment);
      const deep = Array.from({ length: MAX_PATH_TAG_DEPTH + 2 }, (_, i) => `/${i}${encoded}`).join('');
      await store.set(stage, 'deep', entry('deep', { tags: tagged(deep) }));
      await store.set(stage, 'other', entry('other', { tags: tagged(`/x${encoded}`) }));
      assert.equal(await store.purge(stage, { pathPrefix: `/0${encoded}/1${encoded}/9` }), 0, 'not a whole-segment prefix');
      assert.equal(await store.purge(stage, { pathPrefix: `/0${segment}/1${segment.toUpperCase().toLowerCase()}` }), 1, 'the decoded spelling of a long prefix');
      assert.equal(await store.get(stage, 'deep'), undefined);
      assert.equal((await store.get(stage, 'other'))?.body.toString(), 'other');
    });
  });
}
