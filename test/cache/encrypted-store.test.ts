/** EncryptedStore: the store contract (over a synchronous and an asynchronous store), plus sealing. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EncryptedStore } from '../../src/cache/crypto.js';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { stageId, type CacheStore } from '../../src/cache/store.js';
import { MemoryStore } from '../../src/cache/stores/memory.js';
import { runStoreContract } from './store-contract.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

/** A memory store that answers with promises, as a remote store does. */
function asyncStore(inner: CacheStore): CacheStore {
  return {
    get: async (stage, key) => inner.get(stage, key),
    set: async (stage, key, entry) => inner.set(stage, key, entry),
    delete: async (stage, key) => inner.delete(stage, key),
    flush: async (stage) => inner.flush(stage),
    purge: async (stage, match) => inner.purge(stage, match),
    configureStage: async (stage, capacity) => inner.configureStage(stage, capacity),
    dropStage: async (stage) => inner.dropStage(stage),
    stats: (stage) => inner.stats(stage),
    close: async () => inner.close(),
  };
}

runStoreContract('EncryptedStore over MemoryStore', ({ now }) => new EncryptedStore(new MemoryStore({ now }), KEY));
runStoreContract('EncryptedStore over an asynchronous store', ({ now }) => new EncryptedStore(asyncStore(new MemoryStore({ now })), KEY));

const STAGE = stageId('petstore', 'prod');
const SECRET_BODY = 'card=4111-1111-1111-1111';
const SECRET_HEADER = 'session-token-7f3a9c';

function entry(): CacheEntry {
  return {
    version: CACHE_ENTRY_VERSION,
    statusCode: 200,
    headers: [['content-type', 'application/json'], ['x-secret', SECRET_HEADER]],
    body: Buffer.from(SECRET_BODY),
    storedAt: 1_000,
    staleAt: 2_000,
    deleteAt: 3_000,
  };
}

function setup() {
  const inner = new MemoryStore({ now: () => 1_500 });
  inner.configureStage(STAGE, 1 << 20);
  const store = new EncryptedStore(inner, KEY);
  store.set(STAGE, 'k', entry());
  const sealed = inner.get(STAGE, 'k')!;
  return { inner, store, sealed };
}

describe('EncryptedStore', () => {
  it('stores no plaintext: header values and body are inside one ciphertext', () => {
    const { sealed } = setup();
    assert.deepEqual(sealed.headers, []);
    assert.ok((sealed.sealed?.keyId.length ?? 0) > 0, 'marked sealed, with a key id');
    assert.equal(sealed.body.indexOf(SECRET_BODY), -1);
    assert.equal(sealed.body.indexOf(SECRET_HEADER), -1);
    assert.equal(sealed.body.indexOf('application/json'), -1);
    assert.equal(sealed.statusCode, 200);
    assert.deepEqual([sealed.storedAt, sealed.staleAt, sealed.deleteAt], [1_000, 2_000, 3_000]);
  });

  it('opens what it sealed, without the sealed mark', () => {
    const { store } = setup();
    const found = store.get(STAGE, 'k') as CacheEntry;
    assert.deepEqual(found.headers, entry().headers);
    assert.equal(found.body.toString(), SECRET_BODY);
    assert.equal(found.sealed, undefined);
  });

  it('uses a fresh IV per entry: the same response sealed twice differs', () => {
    const { inner, store, sealed } = setup();
    store.set(STAGE, 'k', entry());
    assert.ok(!inner.get(STAGE, 'k')!.body.equals(sealed.body));
  });

  it('treats any changed byte of the sealed body as a miss, and counts it', () => {
    const { inner, store, sealed } = setup();
    for (let i = 0; i < sealed.body.length; i++) {
      const body = Buffer.from(sealed.body);
      body[i]! ^= 0x01;
      inner.set(STAGE, 'k', { ...sealed, body });
      assert.equal(store.get(STAGE, 'k'), undefined, `byte ${i} changed`);
    }
    assert.equal(store.decryptFailures, sealed.body.length);
  });

  it('treats an edited status or lifetime, or an entry moved to another key or stage, as a miss', () => {
    const { inner, store, sealed } = setup();
    const other = stageId('petstore', 'dev');
    inner.configureStage(other, 1 << 20);
    const cases: [string, string, CacheEntry][] = [
      [STAGE, 'k', { ...sealed, statusCode: 203 }],
      [STAGE, 'k', { ...sealed, deleteAt: sealed.deleteAt + 60_000 }],
      [STAGE, 'k', { ...sealed, staleAt: sealed.staleAt + 60_000 }],
      [STAGE, 'other-key', sealed],
      [other, 'k', sealed],
    ];
    for (const [stage, key, moved] of cases) {
      inner.set(stage, key, moved);
      assert.equal(store.get(stage, key), undefined, JSON.stringify({ stage, key, statusCode: moved.statusCode, deleteAt: moved.deleteAt }));
    }
    assert.equal(store.decryptFailures, cases.length);
  });

  it('treats truncated bytes, another format version and an unsealed entry as misses', () => {
    const { inner, store, sealed } = setup();
    for (const body of [sealed.body.subarray(0, 10), sealed.body.subarray(0, sealed.body.length - 1), Buffer.alloc(0)]) {
      inner.set(STAGE, 'k', { ...sealed, body });
      assert.equal(store.get(STAGE, 'k'), undefined);
    }
    const versioned = Buffer.from(sealed.body);
    versioned[0] = 2;
    inner.set(STAGE, 'k', { ...sealed, body: versioned });
    assert.equal(store.get(STAGE, 'k'), undefined);
    inner.set(STAGE, 'k', entry());
    assert.equal(store.get(STAGE, 'k'), undefined, 'a plaintext entry is not served as if sealed');
    assert.equal(store.decryptFailures, 5);
  });

  it('does not open entries sealed under another key (a key change is a miss)', () => {
    const { inner } = setup();
    const rotated = new EncryptedStore(inner, randomBytes(32));
    assert.equal(rotated.get(STAGE, 'k'), undefined);
    assert.equal(rotated.decryptFailures, 1);
    const forged = { ...inner.get(STAGE, 'k')!, sealed: { keyId: rotated.keyId } };
    inner.set(STAGE, 'k', forged);
    assert.equal(rotated.get(STAGE, 'k'), undefined, 'a forged key id still fails authentication');
  });

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => new EncryptedStore(new MemoryStore(), Buffer.alloc(16)), /32-byte key/);
  });
});
