/**
 * The `Cache-Status` response header (RFC 9211), e.g. `cachegate; hit; ttl=287` or
 * `cachegate; fwd=uri-miss; stored`. Its vocabulary is also the cache outcome in logs and metrics.
 */

/** RFC 9211 §2.2 `fwd` reasons used here: uri-miss (no entry), request (client asked), stale (refreshing), bypass (cache unusable). */
export type ForwardReason = 'uri-miss' | 'request' | 'stale' | 'bypass';

export interface CacheStatusParts {
  hit?: boolean;
  /** Seconds of freshness left (RFC 9211 §2.5; negative when stale). */
  ttl?: number;
  fwd?: ForwardReason;
  stored?: boolean;
  /** Why the response was not stored, or another implementation-specific note (RFC 9211 §2.8). */
  detail?: string;
  collapsed?: boolean;
}

const CACHE_NAME = 'cachegate';

export function cacheStatus(parts: CacheStatusParts): string {
  let value = CACHE_NAME;
  if (parts.hit) value += '; hit';
  if (parts.fwd) value += `; fwd=${parts.fwd}`;
  if (parts.ttl !== undefined) value += `; ttl=${parts.ttl}`;
  if (parts.stored) value += '; stored';
  if (parts.collapsed) value += '; collapsed';
  if (parts.detail) value += `; detail=${parts.detail}`;
  return value;
}
