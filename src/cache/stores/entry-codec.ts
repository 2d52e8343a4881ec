/**
 * A compact, versioned binary encoding of a CacheEntry for remote stores (Redis): one Buffer,
 * no JSON and no base64 on the hot path, and the body decoded as a view (no copy).
 *
 * Layout (big-endian):
 *   magic "CG" (2) | format version u8 | flags u8 (1 sealed, 2 tags) | entry version u16 |
 *   statusCode u16 | storedAt f64 | staleAt f64 | deleteAt f64 |
 *   header count u16, then per header: name length u16, name, value length u32, value |
 *   [sealed: key id length u8, key id] | [tags: count u16, then per tag: length u16, tag] |
 *   body length u32 | body
 *
 * STYLE.md practice 5: anything that does not decode exactly — other format version, truncated
 * (half-written), trailing bytes, not ours at all — decodes to undefined (a miss), never a throw.
 */
import type { CacheEntry } from '../entry.js';

export const ENTRY_FORMAT_VERSION = 1;
const MAGIC_0 = 0x43; // 'C'
const MAGIC_1 = 0x47; // 'G'
export const FLAG_SEALED = 1;
const FLAG_TAGS = 2;
const FIXED_BYTES = 2 + 1 + 1 + 2 + 2 + 8 * 3 + 2;

/**
 * Where the fixed fields sit (see Layout): a reader that needs only these reads them in place,
 * without decoding headers (the shared store's hit path, stores/shared/stored-entry.ts).
 */
export const ENCODED_AT = { flags: 3, version: 4, statusCode: 6, storedAt: 8, staleAt: 16, deleteAt: 24, headerCount: 32 } as const;
/** The smallest encoded entry: fixed fields and an empty body's length. */
export const MIN_ENCODED_BYTES = FIXED_BYTES + 4;

/** Whether `data` holds an entry of this format from `at` (magic and format version; the rest is decodeEntry's to check). */
export function isEncodedEntry(data: Buffer, at: number): boolean {
  return data.length - at >= MIN_ENCODED_BYTES && data[at] === MAGIC_0 && data[at + 1] === MAGIC_1 && data[at + 2] === ENTRY_FORMAT_VERSION;
}

export function encodeEntry(entry: CacheEntry): Buffer {
  let size = FIXED_BYTES + 4 + entry.body.length;
  for (const [name, value] of entry.headers) size += 2 + Buffer.byteLength(name) + 4 + Buffer.byteLength(value);
  if (entry.sealed) size += 1 + Buffer.byteLength(entry.sealed.keyId);
  if (entry.tags) for (const tag of entry.tags) size += 2 + Buffer.byteLength(tag);
  if (entry.tags) size += 2;

  const out = Buffer.allocUnsafe(size);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = ENTRY_FORMAT_VERSION;
  out[3] = (entry.sealed ? FLAG_SEALED : 0) | (entry.tags ? FLAG_TAGS : 0);
  let at = out.writeUInt16BE(entry.version, 4);
  at = out.writeUInt16BE(entry.statusCode, at);
  at = out.writeDoubleBE(entry.storedAt, at);
  at = out.writeDoubleBE(entry.staleAt, at);
  at = out.writeDoubleBE(entry.deleteAt, at);
  at = out.writeUInt16BE(entry.headers.length, at);
  for (const [name, value] of entry.headers) {
    at = writeString(out, at, name, 2);
    at = writeString(out, at, value, 4);
  }
  if (entry.sealed) at = writeString(out, at, entry.sealed.keyId, 1);
  if (entry.tags) {
    at = out.writeUInt16BE(entry.tags.length, at);
    for (const tag of entry.tags) at = writeString(out, at, tag, 2);
  }
  at = out.writeUInt32BE(entry.body.length, at);
  entry.body.copy(out, at);
  return out;
}

/** The entry, or undefined for anything that is not exactly one entry of this format. */
export function decodeEntry(data: Buffer | null | undefined): CacheEntry | undefined {
  if (!data || !isEncodedEntry(data, 0)) return undefined;
  const reader = new Reader(data, 3);
  const flags = reader.u8();
  const version = reader.u16();
  const statusCode = reader.u16();
  const storedAt = reader.f64();
  const staleAt = reader.f64();
  const deleteAt = reader.f64();
  const headerCount = reader.u16();
  const headers: [string, string][] = [];
  for (let i = 0; i < headerCount && reader.ok; i++) headers.push([reader.string(2), reader.string(4)]);
  const sealed = flags & FLAG_SEALED ? { keyId: reader.string(1) } : undefined;
  let tags: string[] | undefined;
  if (flags & FLAG_TAGS) {
    const count = reader.u16();
    tags = [];
    for (let i = 0; i < count && reader.ok; i++) tags.push(reader.string(2));
  }
  const body = reader.bytes(reader.u32());
  // Half-written or padded values fail here: the body must end exactly at the end.
  if (!reader.ok || reader.at !== data.length) return undefined;
  const entry: { -readonly [K in keyof CacheEntry]: CacheEntry[K] } = { version, statusCode, headers, body, storedAt, staleAt, deleteAt };
  if (tags) entry.tags = tags;
  if (sealed) entry.sealed = sealed;
  return entry;
}

function writeString(out: Buffer, at: number, text: string, lengthBytes: 1 | 2 | 4): number {
  const length = out.write(text, at + lengthBytes, 'utf8');
  if (lengthBytes === 1) out.writeUInt8(length, at);
  else if (lengthBytes === 2) out.writeUInt16BE(length, at);
  else out.writeUInt32BE(length, at);
  return at + lengthBytes + length;
}

/** Bounds-checked reads: past the end, `ok` turns false and reads return zero values. */
class Reader {
  ok = true;
  constructor(private readonly data: Buffer, public at: number) {}

  private take(length: number): number {
    const start = this.at;
    if (!this.ok || start + length > this.data.length) {
      this.ok = false;
      return -1;
    }
    this.at += length;
    return start;
  }
  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.data[at]!;
  }
  u16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : this.data.readUInt16BE(at);
  }
  u32(): number {
    const at = this.take(4);
    return at < 0 ? 0 : this.data.readUInt32BE(at);
  }
  f64(): number {
    const at = this.take(8);
    return at < 0 ? 0 : this.data.readDoubleBE(at);
  }
  bytes(length: number): Buffer {
    const at = this.take(length);
    return at < 0 ? Buffer.alloc(0) : this.data.subarray(at, at + length);
  }
  string(lengthBytes: 1 | 2 | 4): string {
    const length = lengthBytes === 1 ? this.u8() : lengthBytes === 2 ? this.u16() : this.u32();
    return this.bytes(length).toString('utf8');
  }
}
