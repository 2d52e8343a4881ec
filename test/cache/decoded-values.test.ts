/**
 * The Redis store's decoded values (decoded-values.ts): a value read again is not decoded again,
 * yet what a hit gets is always exactly what the bytes Redis just returned encode; the copies are
 * bounded by count and bytes and keep no socket read alive (SPEC §7). The entry key hash is the
 * one earlier versions wrote, so gateways of both versions share one Redis during an upgrade.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { decodeEntry, encodeEntry } from '../../src/cache/stores/entry-codec.js';
import { DecodedValues, MAX_DECODED_BYTES, MAX_DECODED_VALUES, MAX_DECODED_VALUE_BYTES } from '../../src/cache/stores/redis/decoded-values.js';
import { entryHash } from '../../src/cache/stores/redis/keys.js';

const entry = (body: Buffer, etag = '"a"'): CacheEntry => ({
  version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'application/json'], ['etag', etag]], body, storedAt: 1, staleAt: 2e12, deleteAt: 3e12,
});

/** The value as a reply arrives: a view into a larger socket read. */
function asReply(value: Buffer): Buffer {
  const read = Buffer.alloc(value.length + 64 * 1024);
  value.copy(read, 17);
  return read.subarray(17, 17 + value.length);
}

describe('DecodedValues', () => {
  it('gives the entry decoded before for the same bytes, and a new one once the bytes change', () => {
    const values = new DecodedValues();
    const first = values.decode('k', asReply(encodeEntry(entry(Buffer.from('one')))))!;
    assert.equal(values.decode('k', asReply(encodeEntry(entry(Buffer.from('one'))))), first, 'same bytes: same entry object (its serialized head with it)');
    const changed = values.decode('k', asReply(encodeEntry(entry(Buffer.from('one'), '"b"'))))!;
    assert.notEqual(changed, first);
    assert.deepEqual(changed.headers[1], ['etag', '"b"']);
    assert.equal(values.decode('k', null), undefined);
    assert.equal(values.decode('k', Buffer.from('not an entry')), undefined);
  });

  it('always answers what the bytes just read encode (any keys, values and order)', () => {
    const bodies = ['', 'a', 'b', 'a much longer body'].map((text) => Buffer.from(text));
    const op = fc.record({ key: fc.integer({ min: 0, max: 5 }), body: fc.integer({ min: 0, max: 3 }), etag: fc.constantFrom('"a"', '"b"'), garbled: fc.boolean() });
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const values = new DecodedValues();
      for (const { key, body, etag, garbled } of ops) {
        const value = encodeEntry(entry(bodies[body]!, etag));
        if (garbled) value[value.length - 1] ^= 0xff;
        const got = values.decode(`k${key}`, asReply(value));
        assert.deepEqual(got, decodeEntry(value));
      }
    }), { seed: 17, numRuns: 300 });
  });

  it('keeps at most MAX_DECODED_VALUES values and MAX_DECODED_BYTES, and no socket read alive', () => {
    const values = new DecodedValues();
    for (let i = 0; i < MAX_DECODED_VALUES * 40; i++) {
      const got = values.decode(`k${i}`, asReply(encodeEntry(entry(Buffer.alloc(1024 + (i % 7) * 4096, i)))))!;
      assert.equal(got.body[0], i & 0xff);
      // Those kept (all, until the first places are taken) are views into copies, not into the read.
      if (i < 16) assert.ok(got.body.buffer.byteLength < got.body.length + 200, 'the body of a kept entry is a view into a copy of the value');
      assert.ok(values.size <= MAX_DECODED_VALUES, `${values.size} values after ${i + 1}`);
      assert.ok(values.countedBytes <= MAX_DECODED_BYTES, `${values.countedBytes} bytes after ${i + 1}`);
    }
    const large = values.decode('large', asReply(encodeEntry(entry(Buffer.alloc(MAX_DECODED_VALUE_BYTES + 1)))))!;
    assert.equal(large.body.length, MAX_DECODED_VALUE_BYTES + 1);
    assert.ok(values.countedBytes <= MAX_DECODED_BYTES);
  });

  it('gives a place to a key read again and again once full of others', () => {
    const values = new DecodedValues();
    for (let i = 0; i < MAX_DECODED_VALUES; i++) values.decode(`k${i}`, encodeEntry(entry(Buffer.from(String(i)))));
    const hot = encodeEntry(entry(Buffer.from('hot')));
    for (let i = 0; i < 100; i++) values.decode('hot', hot);
    assert.equal(values.decode('hot', hot), values.decode('hot', hot));
  });
});

describe('entry key hash', () => {
  it('is the one earlier versions wrote (SHA-256, base64url, 32 characters), for any key', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (key) => {
      assert.equal(entryHash(key), createHash('sha256').update(key).digest('base64url').slice(0, 32));
    }), { seed: 18, numRuns: 500 });
  });
});
