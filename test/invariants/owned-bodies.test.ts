/**
 * SPEC §7, "every byte an entry keeps counts against its budget": entrySize counts a body as its
 * length plus one Buffer object. That holds only if the stored body owns its memory. Two ways it
 * did not:
 * - a sealed entry (cacheDataEncrypted) was a `Buffer.concat` result: under 4 KiB that is a slice
 *   of Node's shared 8 KiB pool, so a 100-byte entry kept a whole 8 KiB slab (and whatever else
 *   was allocated from it) alive — ~40× its body, past eviction of everything else in the slab;
 * - a Redis `localCacheMs` copy kept the decoded entry, whose body is a view into the Redis reply
 *   (entry-codec decodes without a copy), and ioredis's parser hands replies out as slices of a
 *   socket read or of its shared bufferPool (≥ 3× the largest multi-chunk reply).
 *
 * Run once, not per gateway thread count (issue 17): store objects are driven directly (an
 * EncryptedStore over a MemoryStore, Redis local copies), no gateway or connection involved; with
 * threads each thread has its own such objects. What several threads keep together is
 * memory.test.ts's `--workers 2` case.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EncryptedStore } from '../../src/cache/crypto.js';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { decodeEntry, encodeEntry } from '../../src/cache/stores/entry-codec.js';
import { MemoryStore } from '../../src/cache/stores/memory.js';
import { LocalEntries } from '../../src/cache/stores/redis/local-entries.js';

const entry = (body: Buffer): CacheEntry => ({
  version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'text/plain']], body, storedAt: 0, staleAt: 1e15, deleteAt: 1e15,
});

/** Bytes of memory a body keeps alive beyond its own length. */
const slack = (body: Buffer): number => body.buffer.byteLength - body.length;

describe('stored bodies own their memory (entrySize counts body.length)', () => {
  it('sealed entries of every small size keep no shared pool slab alive', () => {
    const inner = new MemoryStore();
    const store = new EncryptedStore(inner, randomBytes(32));
    inner.configureStage('s', 64 * 1024 * 1024);
    for (let size = 0; size < 4200; size += 97) {
      void store.set('s', `k${size}`, entry(Buffer.alloc(size, 'b')));
      const sealed = inner.get('s', `k${size}`) as CacheEntry;
      assert.ok(sealed.sealed, 'stored sealed');
      assert.ok(slack(sealed.body) <= 64, `a ${sealed.body.length}-byte sealed body keeps ${sealed.body.buffer.byteLength} bytes alive`);
    }
  });

  it('Redis local copies keep no reply buffer alive', () => {
    const local = new LocalEntries(60_000);
    for (const size of [0, 10, 1000, 100_000]) {
      // As ioredis delivers it: the reply is a slice of a larger buffer (a socket read, its bufferPool).
      const encoded = encodeEntry(entry(Buffer.alloc(size, 'c')));
      const reply = Buffer.alloc(encoded.length + 256 * 1024);
      encoded.copy(reply, 1000);
      const decoded = decodeEntry(reply.subarray(1000, 1000 + encoded.length))!;
      assert.equal(decoded.body.length, size);
      const id = LocalEntries.id('h', 1, `k${size}`);
      local.set(id, decoded, 0);
      const copy = local.get(id, 0)!;
      assert.ok(slack(copy.body) <= 64, `a ${size}-byte local copy keeps ${copy.body.buffer.byteLength} bytes alive`);
    }
  });
});
