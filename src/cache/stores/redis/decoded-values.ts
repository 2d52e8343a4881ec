/**
 * The last value read under each of a few recent Redis keys, with the entry decoded from it. A hit
 * whose GET returns the very bytes of last time takes that entry — and the head entry-writer.ts
 * serialized on its first hit with it — instead of decoding a new object and serializing its head
 * again. Every hit still makes its GET, and the bytes are compared each time, so this never answers
 * anything Redis did not just return: a flush, purge or refresh on any node is seen at once, unlike
 * `store.localCacheMs` copies (local-entries.ts), which skip the round trip.
 *
 * Bounded by count and by bytes (the copies are heap the Redis budget does not see, SPEC §7);
 * oldest first out. A value is kept as its own copy: the reply is a view into a socket read, and
 * keeping it would keep the whole read alive.
 */
import { entrySize, type CacheEntry } from '../../entry.js';
import { ownedBuffer, ownedString } from '../../owned-string.js';
import { decodeEntry } from '../entry-codec.js';

export const MAX_DECODED_VALUES = 256;
export const MAX_DECODED_BYTES = 4 * 1024 * 1024;
/** A larger value is decoded on each hit: one value never takes more than a sixteenth. */
export const MAX_DECODED_VALUE_BYTES = MAX_DECODED_BYTES / 16;
/**
 * Once full, one new key in this many takes the place of the oldest; the others are decoded and
 * not kept. Keeping costs a copy of the value: with more keys in play than places (10,000 keys hit
 * uniformly), keeping each new one would copy on every hit and save nothing, while a hot key,
 * read again and again, gets a place soon.
 */
export const ADMIT_ONE_IN = 16;

interface Decoded {
  readonly value: Buffer;
  readonly entry: CacheEntry;
  readonly size: number;
}

export class DecodedValues {
  private readonly values = new Map<string, Decoded>();
  private bytes = 0;
  /** New keys not kept while full (one in ADMIT_ONE_IN is). */
  private refused = 0;

  /** The entry `value` (read under `redisKey`) encodes: the one decoded before when the bytes are the same. */
  decode(redisKey: string, value: Buffer | null): CacheEntry | undefined {
    if (value === null) return undefined;
    const known = this.values.get(redisKey);
    if (known !== undefined && known.value.equals(value)) return known.entry;
    if (known !== undefined) this.forget(redisKey, known);
    else if (this.full && ++this.refused % ADMIT_ONE_IN !== 0) return decodeEntry(value);
    if (value.length > MAX_DECODED_VALUE_BYTES) return decodeEntry(value);
    const owned = ownedBuffer(value);
    // Decoded from the copy: the body is a view into it, not into the socket read.
    const entry = decodeEntry(owned);
    if (entry === undefined) return undefined;
    this.keep(redisKey, { value: owned, entry, size: entrySize(redisKey, entry) + owned.length - entry.body.length });
    return entry;
  }

  /** Bytes the kept values and entries count (entry.ts entrySize, plus the encoded headers). */
  get countedBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.values.size;
  }

  /** No place for another value without dropping one (within a largest value of the byte bound). */
  private get full(): boolean {
    return this.values.size >= MAX_DECODED_VALUES || this.bytes > MAX_DECODED_BYTES - MAX_DECODED_VALUE_BYTES;
  }

  private keep(redisKey: string, decoded: Decoded): void {
    while (this.values.size > 0 && (this.values.size >= MAX_DECODED_VALUES || this.bytes + decoded.size > MAX_DECODED_BYTES)) {
      const [oldest, value] = this.values.entries().next().value!;
      this.forget(oldest, value);
    }
    this.values.set(ownedString(redisKey), decoded);
    this.bytes += decoded.size;
  }

  private forget(redisKey: string, decoded: Decoded): void {
    this.values.delete(redisKey);
    this.bytes -= decoded.size;
  }
}
