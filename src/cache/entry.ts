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

/** Bytes an entry counts against a stage's budget: key, headers and body (plus a fixed overhead). */
export function entrySize(key: string, entry: CacheEntry): number {
  let size = 64 + key.length * 2 + entry.body.length;
  for (const [name, value] of entry.headers) size += name.length + value.length + 16;
  return size;
}
