/**
 * What a cache store holds. Policy decides the times; stores only honour `deleteAt` and never
 * parse Cache-Control (STYLE.md practice 1).
 */
import { isPathTag } from './tags.js';

/** Bumped whenever the stored shape changes; an entry of another version is a miss, never a crash. */
export const CACHE_ENTRY_VERSION = 1;

export interface CacheEntry {
  readonly version: number;
  readonly statusCode: number;
  /** Response headers to replay, lower-case names, in order. Empty when `sealed` (they are inside `body`). */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** The body bytes; written to the socket as they are (never copied on a hit). Ciphertext when `sealed`. */
  readonly body: Buffer;
  /** Epoch ms when the response was stored. */
  readonly storedAt: number;
  /** Epoch ms after which the entry is stale (fresh before). */
  readonly staleAt: number;
  /** Epoch ms after which the entry must not be served at all; stores drop it then. */
  readonly deleteAt: number;
  /** Purge tags: the backend's (Surrogate-Key / Cache-Tag) and the request path's (tags.ts). */
  readonly tags?: readonly string[];
  /** Set on AES-256-GCM encrypted entries: `body` holds iv+ciphertext+tag of headers and body. */
  readonly sealed?: { readonly keyId: string };
}

/** An inclusive byte range of an entry's body (RFC 9110 §14.1.2), or a range that cannot be satisfied (416). */
export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable';

/*
 * SPEC §7: "every byte an entry keeps counts against its budget". entrySize is an upper bound of
 * the V8 heap (and Buffer memory) one stored entry keeps alive in the memory store, whatever the
 * caller chose for its key, path and headers. Every store charges it, so a plug-in space that must
 * not evict (Alibaba) can tell in advance whether an entry fits.
 *
 * Per-object figures measured on Node 20.20 x64 (pointer compression off, as Node ships), heap
 * after full GCs divided by 20k-1M objects (bench/entry-overhead.ts prints them again):
 *   entry object, 8 fields, 3 HeapNumber times, + head block property   171-177 B
 *   LRU node (5 fields)                                                  65 B
 *   Map slot, string key → node: 20-33 B, 48 B just after the table doubles
 *   Buffer.allocUnsafeSlow (JSArrayBuffer + Uint8Array), JS side        205 B (+ its bytes, off heap)
 *   [name, value] pair array built at run time                          64 B
 *   sequential string: 16 B header + 1 B (Latin-1) or 2 B per char, 8-aligned
 *   Set (tag index record) with one member: ~152 B; each further member 26-52 B
 * A ConsString is 32 B per concatenation and a SlicedString keeps its whole parent alive: the
 * strings an entry keeps are flattened copies (ownedString), so these figures hold.
 */
const ENTRY_OBJECT_BYTES = 184;
const LRU_NODE_BYTES = 72;
const MAP_SLOT_BYTES = 56;
const BUFFER_OBJECT_BYTES = 224;
const PAIR_ARRAY_BYTES = 64;
const STRING_HEADER_BYTES = 16;
/** Tag index (memory store): the tag's Map slot and Set, and this entry's slot in that Set. */
const TAG_INDEX_RECORD_BYTES = MAP_SLOT_BYTES + 160;
const TAG_INDEX_MEMBER_BYTES = 56;
/** The head block's status line and Content-Length line (entry-writer.ts), at most. */
const HEAD_BLOCK_FIXED_CHARS = 128;
/** Per stored header in the head block: `: ` and CRLF. */
const HEAD_BLOCK_HEADER_CHARS = 4;

/**
 * Bytes an entry counts against a stage's budget (SPEC §7): key, headers, body, tags, the head
 * block a hit caches on it (entry-writer.ts), the tag index records and the store's own node,
 * map slot and entry object.
 */
export function entrySize(key: string, entry: CacheEntry): number {
  let size = ENTRY_OBJECT_BYTES + LRU_NODE_BYTES + MAP_SLOT_BYTES + stringBytes(key);
  size += BUFFER_OBJECT_BYTES + entry.body.length;
  size += arrayBytes(entry.headers.length);
  let headChars = HEAD_BLOCK_FIXED_CHARS;
  let headWide = false;
  for (const [name, value] of entry.headers) {
    size += PAIR_ARRAY_BYTES + stringBytes(name) + stringBytes(value);
    headChars += name.length + value.length + HEAD_BLOCK_HEADER_CHARS;
    headWide ||= isWide(name) || isWide(value);
  }
  size += sequentialStringBytes(headChars, headWide);
  if (entry.tags) {
    size += arrayBytes(entry.tags.length);
    for (const tag of entry.tags) {
      const bytes = stringBytes(tag);
      // An indexed tag may outlive this entry's copy as the index's key: counted twice, to be safe.
      size += isPathTag(tag) ? bytes : bytes + TAG_INDEX_MEMBER_BYTES + TAG_INDEX_RECORD_BYTES + bytes;
    }
  }
  if (entry.sealed) size += 64 + stringBytes(entry.sealed.keyId);
  return size;
}

/** V8 heap bytes of a flat string. */
export function stringBytes(text: string): number {
  return sequentialStringBytes(text.length, isWide(text));
}

function sequentialStringBytes(chars: number, wide: boolean): number {
  return STRING_HEADER_BYTES + align8(wide ? chars * 2 : chars);
}

/** A JSArray grown by push: header, backing store header, and up to half again as many slots (V8 grows by 1.5x + 16). */
function arrayBytes(length: number): number {
  return 48 + 8 * (length + (length >> 1) + 16);
}

/** Whether V8 stores the string with two bytes per char (any char above U+00FF). */
function isWide(text: string): boolean {
  return WIDE.test(text);
}

// eslint-disable-next-line no-control-regex
const WIDE = /[^\u0000-\u00ff]/;

function align8(bytes: number): number {
  return (bytes + 7) & ~7;
}
