/**
 * `cacheDataEncrypted` (SPEC §5): entries sealed with AES-256-GCM before they reach any store.
 * Headers and body become one ciphertext under a random 96-bit IV per entry (NIST SP 800-38D
 * §8.2.2: random IVs are safe far beyond any cache's write count under one key). The additional
 * authenticated data binds the stage, the key, the status and the times, so an entry moved to
 * another key or stage, or edited in the store (a longer life, another status), fails to open.
 * Purge tags (tags.ts) reach the store as HMACs under the key, not in clear: they are header values
 * the backend sent (sealed in the headers) and request paths (which the hashed keys hide), yet the
 * store must still match them, and an HMAC matches exactly as the tag would. Path tags keep their
 * mark so the store can tell them apart. Tags are not bound by the AAD: they change no response.
 *
 * Anything that does not open — another key id, another format, truncated, tampered, not sealed
 * at all — is a miss, never a throw (STYLE.md practice 5), and counted in `decryptFailures`.
 *
 *   sealed body: format (1 byte) | iv (12) | ciphertext | tag (16)
 *   plaintext:   header JSON length (u32 BE) | header JSON ([[name, value], …]) | body
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { CacheEntry } from './entry.js';
import type { CacheStore, MaybePromise, StageStats } from './store.js';
import { isPathTag, PATH_TAG_MARK, purgeTags, type PurgeMatch } from './tags.js';
import { ownedBuffer } from './owned-string.js';

/** Bumped when the sealed layout changes; entries of another format are misses. */
export const SEAL_FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const LENGTH_BYTES = 4;
const MIN_SEALED_BYTES = 1 + IV_BYTES + LENGTH_BYTES + TAG_BYTES;

export class EncryptedStore implements CacheStore {
  /**
   * Names the encryption key without revealing it (an HMAC under the key itself): entries sealed
   * under another key are misses, not decryption attempts.
   */
  readonly keyId: string;
  /** Entries that did not open (other key, other format, truncated, tampered, unsealed). */
  decryptFailures = 0;

  constructor(
    private readonly inner: CacheStore,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new Error(`AES-256-GCM needs a 32-byte key, got ${key.length} bytes`);
    this.keyId = createHmac('sha256', key).update('cachegate cache key id').digest('base64url').slice(0, 11);
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

  purge(stage: string, match: PurgeMatch): MaybePromise<number> {
    return this.inner.purge(stage, { tags: purgeTags(match).map((tag) => this.sealTag(tag)) });
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
    const headerJson = Buffer.from(JSON.stringify(entry.headers), 'utf8');
    const length = Buffer.allocUnsafe(LENGTH_BYTES);
    length.writeUInt32BE(headerJson.length);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(additionalData(stage, key, entry));
    const parts = [Buffer.of(SEAL_FORMAT_VERSION), iv, cipher.update(length), cipher.update(headerJson), cipher.update(entry.body), cipher.final(), cipher.getAuthTag()];
    const sealed: CacheEntry = {
      version: entry.version,
      statusCode: entry.statusCode,
      headers: [],
      // Its own memory, not a slice of Node's shared pool (owned-string.ts; SPEC §7).
      body: ownedBuffer(Buffer.concat(parts)),
      storedAt: entry.storedAt,
      staleAt: entry.staleAt,
      deleteAt: entry.deleteAt,
      sealed: { keyId: this.keyId },
    };
    return entry.tags === undefined ? sealed : { ...sealed, tags: entry.tags.map((tag) => this.sealTag(tag)) };
  }

  /** A tag as the store sees it: an HMAC under the key (a path tag keeps its mark). */
  private sealTag(tag: string): string {
    const mac = createHmac('sha256', this.key).update('cachegate purge tag\u0000').update(tag).digest('base64url').slice(0, 32);
    return isPathTag(tag) ? PATH_TAG_MARK + mac : mac;
  }

  private open(stage: string, key: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry === undefined) return undefined;
    const sealed = entry.body;
    if (entry.sealed?.keyId !== this.keyId || sealed.length < MIN_SEALED_BYTES || sealed[0] !== SEAL_FORMAT_VERSION) {
      this.decryptFailures++;
      return undefined;
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(stage, key, entry));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      const headerLength = plain.readUInt32BE(0);
      if (LENGTH_BYTES + headerLength > plain.length) throw new Error('malformed plaintext');
      const headers = parseHeaders(plain.subarray(LENGTH_BYTES, LENGTH_BYTES + headerLength));
      if (headers === undefined) throw new Error('malformed plaintext');
      const opened: CacheEntry = {
        version: entry.version,
        statusCode: entry.statusCode,
        headers,
        body: plain.subarray(LENGTH_BYTES + headerLength),
        storedAt: entry.storedAt,
        staleAt: entry.staleAt,
        deleteAt: entry.deleteAt,
      };
      return entry.tags === undefined ? opened : { ...opened, tags: entry.tags };
    } catch {
      this.decryptFailures++;
      return undefined;
    }
  }
}

/** Length-prefixed, so no stage/key pair can imitate another. */
function additionalData(stage: string, key: string, entry: CacheEntry): Buffer {
  const fields = [String(SEAL_FORMAT_VERSION), stage, key, String(entry.version), String(entry.statusCode), String(entry.storedAt), String(entry.staleAt), String(entry.deleteAt)];
  return Buffer.from(fields.map((field) => `${field.length}:${field}`).join(''), 'utf8');
}

function parseHeaders(json: Buffer): [string, string][] | undefined {
  const value: unknown = JSON.parse(json.toString('utf8'));
  if (!Array.isArray(value)) return undefined;
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return undefined;
  }
  return value as [string, string][];
}
