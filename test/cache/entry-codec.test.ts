/** The Redis entry encoding: exact round trips, and anything else is a miss (undefined), never a throw. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CacheEntry } from '../../src/cache/entry.js';
import { decodeEntry, encodeEntry, ENTRY_FORMAT_VERSION } from '../../src/cache/stores/entry-codec.js';

const entry: CacheEntry = {
  version: 1,
  statusCode: 203,
  headers: [['content-type', 'application/json; charset=utf-8'], ['x-ünïcode', 'välue ✓'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']],
  body: Buffer.from([0, 1, 2, 255, 254, 13, 10]),
  storedAt: 1_700_000_000_123,
  staleAt: 1_700_000_300_123,
  deleteAt: 1_700_000_600_456,
};

describe('entry codec', () => {
  it('round-trips every field, binary bodies and repeated headers included', () => {
    assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
    const tagged: CacheEntry = { ...entry, tags: ['pets', 'tag ✓'], sealed: { keyId: '0123456789abcdef' }, headers: [], body: Buffer.alloc(0) };
    assert.deepEqual(decodeEntry(encodeEntry(tagged)), tagged);
  });

  it('decodes a half-written value as a miss, at every length', () => {
    const encoded = encodeEntry(entry);
    for (let length = 0; length < encoded.length; length++) assert.equal(decodeEntry(encoded.subarray(0, length)), undefined, `length ${length}`);
  });

  it('decodes trailing bytes, another format version and foreign values as misses', () => {
    const encoded = encodeEntry(entry);
    assert.equal(decodeEntry(Buffer.concat([encoded, Buffer.of(0)])), undefined);
    const other = Buffer.from(encoded);
    other[2] = ENTRY_FORMAT_VERSION + 1;
    assert.equal(decodeEntry(other), undefined);
    assert.equal(decodeEntry(Buffer.from('{"statusCode":200}')), undefined);
    assert.equal(decodeEntry(null), undefined);
    assert.equal(decodeEntry(Buffer.alloc(0)), undefined);
  });

  it('never throws on random bytes behind a valid prefix', () => {
    const encoded = encodeEntry(entry);
    for (let i = 0; i < 500; i++) {
      const noisy = Buffer.from(encoded);
      noisy[3 + Math.floor(Math.random() * (noisy.length - 3))] = Math.floor(Math.random() * 256);
      assert.doesNotThrow(() => decodeEntry(noisy));
    }
  });
});
