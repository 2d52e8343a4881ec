/**
 * An entry's bytes in the arena, and the entry a thread reads back from them.
 *
 * Stored: key | tags section | head section | encoded entry (entry-codec.ts, without tags).
 *   tags section: u16 count, then u32 length + UTF-8 per tag (empty when there are none)
 *   head section: u32 lines length | u32 body length | u8 flags (HEAD_USABLE, HEAD_HAS_DATE) | lines
 * The lines are the stored headers as a hit writes them (`name: value` CRLF, Latin-1; entry-writer.ts
 * headerLines), checked as Node checks them once, when the entry is stored. When they are usable
 * they are the only copy of the headers (the encoded entry then holds none): a header name is a
 * token and a value holds no CR or LF, so the lines read back into exactly the stored pairs.
 * Entries whose headers Node would refuse, statuses without a body and sealed entries keep their
 * headers in the encoded entry and are written by writeHead() as before.
 *
 * Read back (StoredEntry): a thread copies everything after the key out of the arena under the
 * store's lock (shared-store.ts), so what it reads is its own heap copy, never shared memory that
 * another thread may reuse. The fixed fields (status, times) are read from the copy in place, the
 * body is a view of it, and the head is the lines as one Latin-1 string between a status line and
 * Content-Length: a hit decodes no headers, makes no [name, value] pairs and validates nothing.
 * Headers, tags and the sealing key id are decoded the first time something reads them (a
 * conditional request, a policy reading headers, a refresh).
 *
 * Those three are getters on the prototype, so `{ ...entry }` does not copy them: a copy names
 * them (flow.ts refreshFromNotModified does).
 */
import { CACHE_ENTRY_VERSION, stringBytes, type CacheEntry } from '../../entry.js';
import { HAS_DATE, HEAD_BLOCK, headerLines, headOf, type HeadCarrier } from '../../entry-writer.js';
import { decodeEntry, encodeEntry, ENCODED_AT, FLAG_SEALED, isEncodedEntry } from '../entry-codec.js';

const HEAD_USABLE = 1;
const HEAD_HAS_DATE = 2;
const HEAD_SECTION_FIXED_BYTES = 4 + 4 + 1;
const NO_HEADERS: CacheEntry['headers'] = Object.freeze([]);

/** A Buffer object (or view) on the heap, JS side (entry.ts measures 205 B). */
const BUFFER_OBJECT_BYTES = 224;
/** A StoredEntry object with its fields, the thread's Map slot and its record of the copy. */
const STORED_ENTRY_OBJECT_BYTES = 256;
/** The head block: status line and Content-Length around the lines, as a string of a few parts (entry.ts: 128 chars at most). */
const HEAD_BLOCK_BYTES = 256;
/** Per decoded header or tag: string headers, a pair array and alignment (entry.ts figures, rounded up). */
const DECODED_ITEM_BYTES = 128;

/** The bytes an entry is stored as, after its key (`keyBytes[0..keyLength)`); `tagsLength` says where the head section starts. */
export function encodeStored(keyBytes: Buffer, keyLength: number, entry: CacheEntry): { bytes: Buffer; tagsLength: number } {
  const lines = entry.sealed === undefined ? headerLines(entry) : false;
  // Usable lines are the headers' only copy (see above).
  const encoded = encodeEntry({ ...entry, headers: lines === false ? entry.headers : NO_HEADERS, tags: undefined, sealed: entry.sealed });
  let tagsLength = 0;
  if (entry.tags !== undefined && entry.tags.length > 0) {
    tagsLength = 2;
    for (const tag of entry.tags) tagsLength += 4 + Buffer.byteLength(tag);
  }
  const linesLength = lines === false ? 0 : lines.text.length;
  const bytes = Buffer.allocUnsafe(keyLength + tagsLength + HEAD_SECTION_FIXED_BYTES + linesLength + encoded.length);
  keyBytes.copy(bytes, 0, 0, keyLength);
  let at = keyLength;
  if (tagsLength > 0) {
    at = bytes.writeUInt16BE(entry.tags!.length, at);
    for (const tag of entry.tags!) {
      const length = bytes.write(tag, at + 4, 'utf8');
      bytes.writeUInt32BE(length, at);
      at += 4 + length;
    }
  }
  at = bytes.writeUInt32BE(linesLength, at);
  at = bytes.writeUInt32BE(entry.body.length, at);
  bytes[at++] = lines === false ? 0 : HEAD_USABLE | (lines.hasDate ? HEAD_HAS_DATE : 0);
  // headerLines admits Latin-1 only (Node's header checks), so one byte per character is exact.
  if (lines !== false) at += bytes.write(lines.text, at, 'latin1');
  encoded.copy(bytes, at);
  return { bytes, tagsLength };
}

export function decodeTags(section: Buffer, length: number): string[] {
  const tags: string[] = [];
  const count = section.readUInt16BE(0);
  let at = 2;
  for (let i = 0; i < count && at + 4 <= length; i++) {
    const tagLength = section.readUInt32BE(at);
    tags.push(section.toString('utf8', at + 4, at + 4 + tagLength));
    at += 4 + tagLength;
  }
  return tags;
}

/** `name: value` CRLF lines back into pairs (names are tokens, values hold no CR or LF: the first `: ` and CRLF split them exactly). */
function parseLines(lines: string): [string, string][] {
  const headers: [string, string][] = [];
  for (let at = 0; at < lines.length;) {
    const end = lines.indexOf('\r\n', at);
    const colon = lines.indexOf(': ', at);
    if (end === -1 || colon === -1 || colon > end) break;
    headers.push([lines.slice(at, colon), lines.slice(colon + 2, end)]);
    at = end + 2;
  }
  return headers;
}

export class StoredEntry implements CacheEntry, HeadCarrier {
  readonly version: number;
  readonly statusCode: number;
  readonly storedAt: number;
  readonly staleAt: number;
  readonly deleteAt: number;
  readonly body: Buffer;
  /** The stored header lines when usable (HEAD_USABLE), else undefined. */
  private readonly lines: string | undefined;
  private readonly hasDate: boolean;
  private block: string | undefined;
  private decoded: CacheEntry | undefined;
  private parsedHeaders: CacheEntry['headers'] | undefined;
  private decodedTags: readonly string[] | undefined;

  /** The entry in `copy` (the stored bytes after the key), or undefined when they are not one entry of this format (a miss). */
  static read(copy: Buffer, tagsLength: number): StoredEntry | undefined {
    const headAt = tagsLength;
    if (copy.length < headAt + HEAD_SECTION_FIXED_BYTES) return undefined;
    const linesLength = copy.readUInt32BE(headAt);
    const bodyLength = copy.readUInt32BE(headAt + 4);
    const encodedAt = headAt + HEAD_SECTION_FIXED_BYTES + linesLength;
    const bodyAt = copy.length - bodyLength;
    // The body ends the bytes, right after its own length (entry-codec.ts).
    if (!isEncodedEntry(copy, encodedAt) || bodyAt - 4 < encodedAt || copy.readUInt32BE(bodyAt - 4) !== bodyLength) return undefined;
    return new StoredEntry(copy, tagsLength, encodedAt, bodyAt);
  }

  private constructor(private readonly copy: Buffer, private readonly tagsLength: number, private readonly encodedAt: number, bodyAt: number) {
    this.version = copy.readUInt16BE(encodedAt + ENCODED_AT.version);
    this.statusCode = copy.readUInt16BE(encodedAt + ENCODED_AT.statusCode);
    this.storedAt = copy.readDoubleBE(encodedAt + ENCODED_AT.storedAt);
    this.staleAt = copy.readDoubleBE(encodedAt + ENCODED_AT.staleAt);
    this.deleteAt = copy.readDoubleBE(encodedAt + ENCODED_AT.deleteAt);
    this.body = copy.subarray(bodyAt);
    const flags = copy[tagsLength + 8]!;
    this.hasDate = (flags & HEAD_HAS_DATE) !== 0;
    this.lines = flags & HEAD_USABLE ? copy.toString('latin1', tagsLength + HEAD_SECTION_FIXED_BYTES, encodedAt) : undefined;
  }

  get headers(): CacheEntry['headers'] {
    if (this.lines === undefined) return this.decode().headers;
    return (this.parsedHeaders ??= parseLines(this.lines));
  }

  get tags(): readonly string[] | undefined {
    if (this.tagsLength === 0) return undefined;
    return (this.decodedTags ??= decodeTags(this.copy, this.tagsLength));
  }

  get sealed(): CacheEntry['sealed'] {
    return this.copy[this.encodedAt + ENCODED_AT.flags]! & FLAG_SEALED ? this.decode().sealed : undefined;
  }

  /** The head a hit writes (entry-writer.ts), or false: writeHead() writes this entry. */
  get [HEAD_BLOCK](): string | false {
    if (this.lines === undefined) return false;
    return (this.block ??= headOf(this.statusCode, this.lines, this.body.length));
  }

  get [HAS_DATE](): true | undefined {
    return this.hasDate || undefined;
  }

  /**
   * Heap this entry can keep (SPEC §7, counted against the thread's copies): its copy and views,
   * the lines and the head block, and — decoded or not yet — its headers and tags, at most two
   * bytes per stored byte (UTF-16) plus strings and a pair per item. `key` names it in the thread's map.
   */
  retainedBytes(key: string): number {
    const { copy } = this;
    const items = copy.readUInt16BE(this.encodedAt + ENCODED_AT.headerCount) + (this.lines === undefined ? 0 : this.lines.length >> 2)
      + (this.tagsLength === 0 ? 0 : copy.readUInt16BE(0));
    const decodable = copy.length - this.body.length;
    return STORED_ENTRY_OBJECT_BYTES + stringBytes(key) + 2 * BUFFER_OBJECT_BYTES + copy.length + HEAD_BLOCK_BYTES
      + 3 * decodable + DECODED_ITEM_BYTES * (items + 2);
  }

  /** Encoded headers and key id, decoded once; bytes that do not decode read as none (never a throw). */
  private decode(): CacheEntry {
    return (this.decoded ??= decodeEntry(this.copy.subarray(this.encodedAt)) ?? EMPTY);
  }
}

const EMPTY: CacheEntry = Object.freeze({ version: CACHE_ENTRY_VERSION, statusCode: 0, headers: NO_HEADERS, body: Buffer.alloc(0), storedAt: 0, staleAt: 0, deleteAt: 0 });
