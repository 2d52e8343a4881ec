/**
 * Bounds on what a caller or backend chooses about an entry (STYLE.md practice 15), checked where
 * every store benefits: by the cache flow before it stores, and by tags.ts when it makes tags.
 * The bytes under these bounds are counted against the budget (entry.ts entrySize); the bounds keep
 * one entry's bookkeeping, and the work per store, small.
 */

/**
 * Longest cache key stored, in UTF-16 code units. A key holds the decoded path parameters and the
 * keyed query values and headers; a request line fits in 8 KiB (listener.ts), so only keys built
 * from long keyed headers pass this. Longer: served from the integration, not stored, counted as
 * `cachegate_cache_not_stored_total{reason="key-too-long"}`.
 */
export const MAX_CACHE_KEY_LENGTH = 8192;

export function keyTooLong(key: string): boolean {
  return key.length > MAX_CACHE_KEY_LENGTH;
}

/**
 * SPEC §7 "Bodies are read only after the caller is authenticated, or up to a small bound before
 * it": what an anonymous caller (or one whose proof needs the body itself: SigV4, an Alibaba
 * signature over a form body) can make the gateway hold per request. Beyond it: 413 JSON.
 */
export const MAX_KEYED_BODY_BYTES_BEFORE_AUTH = 64 * 1024;
