/**
 * `cacheDataEncrypted`: entries sealed with AES-256-GCM before they reach any store. Headers and
 * body are one ciphertext with a random 96-bit IV per entry; the stage, key and status are bound
 * as additional data, so an entry moved to another key (or edited) fails authentication. Anything
 * that does not open — other key id, other format, truncated, tampered — is a miss, never a throw.
 *
 * Sealed body layout: version (1 byte) | iv (12) | ciphertext | tag (16).
 * Plaintext layout: header JSON length (u32 BE) | header JSON | body.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { CacheEntry } from './entry.js';
import type { CacheStore, MaybePromise, StageStats } from './store.js';

const SEAL_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class EncryptedStore implements CacheStore {
  /** Short fingerprint of the key: entries sealed under another key are misses. */
  readonly keyId: string;
  /** Entries that failed to open (tampered, wrong key); for tests and diagnostics. */
  openFailures = 0;

  constructor(private readonly inner: CacheStore, private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  get(stage: string, key: string): MaybePromise<CacheEntry | undefined> {
    const found = this.inner.get(stage, key);
    return found instanceof Promise ? found.then((entry) => this.open(stage, key, entry)) : this.open(stage, key, found);
  }

  set(stage: string, key: string, entry: CacheEntry): MaybePromise<void> {
    return this.inner.set(stage, key, this.seal(stage, key, entry));
  }

  delete(stage: string, key: string): MaybePromise<void> {
    return this.inner.delete(stage, key);
  }
  flush(stage: string): MaybePromise<void> {
    return this.inner.flush(stage);
  }
  configureStage(stage: string, capacityBytes: number): MaybePromise<void> {
    return this.inner.configureStage(stage, capacityBytes);
  }
  dropStage(stage: string): MaybePromise<void> {
    return this.inner.dropStage(stage);
  }
  stats(stage: string): StageStats | undefined {
    return this.inner.stats(stage);
  }
  close(): MaybePromise<void> {
    return this.inner.close();
  }

  private seal(stage: string, key: string, entry: CacheEntry): CacheEntry {
    const headerJson = Buffer.from(JSON.stringify(entry.headers));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(headerJson.length);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(additionalData(stage, key, entry.statusCode));
    const body = Buffer.concat([Buffer.of(SEAL_VERSION), iv, cipher.update(length), cipher.update(headerJson), cipher.update(entry.body), cipher.final(), cipher.getAuthTag()]);
    return { ...entry, headers: [], body, sealed: { keyId: this.keyId } };
  }

  private open(stage: string, key: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    if (!entry) return undefined;
    const sealed = entry.body;
    if (entry.sealed?.keyId !== this.keyId || sealed.length < 1 + IV_BYTES + 4 + TAG_BYTES || sealed[0] !== SEAL_VERSION) {
      this.openFailures++;
      return undefined;
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(additionalData(stage, key, entry.statusCode));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      const headerLength = plain.readUInt32BE(0);
      const headers = JSON.parse(plain.subarray(4, 4 + headerLength).toString('utf8')) as [string, string][];
      // `sealed` stays set: it tells the reader this entry came through decryption.
      return { ...entry, headers, body: plain.subarray(4 + headerLength) };
    } catch {
      this.openFailures++;
      return undefined;
    }
  }
}

function additionalData(stage: string, key: string, statusCode: number): Buffer {
  return Buffer.from(`${stage}\u0000${key}\u0000${statusCode}`);
}
