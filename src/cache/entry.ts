/**
 * What a cache store holds. Policy decides the times; stores only honour `deleteAt` and never
 * parse Cache-Control (STYLE.md practice 1).
 */

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

/** Bytes an entry counts against a stage's budget: key, headers and body (plus a fixed overhead). */
export function entrySize(key: string, entry: CacheEntry): number {
  let size = ENTRY_OVERHEAD_BYTES + key.length * 2 + entry.body.length;
  for (const [name, value] of entry.headers) size += HEADER_OVERHEAD_BYTES + name.length + value.length;
  return size;
}

/**
 * What an entry costs beyond its bytes: the entry object, its LRU node and map slot, measured at
 * ~600 bytes of V8 heap per memory-store entry with two headers (the soak in bench/soak.ts). With a
 * smaller figure a full budget held far more memory than it said.
 */
const ENTRY_OVERHEAD_BYTES = 600;
/** The [name, value] array and two strings of one stored header. */
const HEADER_OVERHEAD_BYTES = 48;
