/**
 * What a response says about the cache: `Cache-Status` (RFC 9211) and `Age` (RFC 9111 §5.1).
 * The outcome union is also the `cache` label of metrics and logs (STYLE.md practice 11), so a
 * dashboard and a `curl -i` speak the same words.
 *
 * RFC 9211 use here:
 * - `hit` (§2.1): answered from the cache, with `ttl` (§2.4) = seconds of freshness left,
 *   negative once stale. A stale entry served while it is refreshed in the background is a hit
 *   (this response did not go forward): `cachegate; hit; ttl=-3; detail=revalidating`.
 * - `fwd` (§2.2): went to the integration, and why: `uri-miss` (no entry), `stale` (an entry too
 *   old to serve), `request` (the client's Cache-Control asked), `bypass` (the store was
 *   unusable). `stored` (§2.5) when the response was stored, else `detail` (§2.8) names why not.
 * - A stale entry served because the integration failed went forward *and* was answered from
 *   the cache: `cachegate; hit; fwd=stale; fwd-status=503; ttl=-30; detail=stale-if-error`
 *   (`fwd-status`, §2.3, only when the integration answered at all).
 * - `collapsed` (§2.6): waited for another request's integration call for the same key.
 * - A failed integration call (502/504) says so in `detail`: `cachegate; fwd=uri-miss;
 *   detail=integration-timeout` (or `integration-unreachable`, `integration-bad-response`); a
 *   caller whose own timeout ran out while it waited for another's call:
 *   `cachegate; fwd=uri-miss; collapsed; detail=integration-timeout`.
 */
import type { NotStorableReason } from './policies/aws/rules.js';
import type { CacheEntry } from './entry.js';

/** This cache's name in Cache-Status (RFC 9211 §2: a token identifying the cache). */
export const CACHE_NAME = 'cachegate';

export const CACHE_OUTCOMES = ['hit', 'stale', 'stale-if-error', 'miss', 'expired', 'refresh', 'collapsed', 'bypass'] as const;
/**
 * - `hit`: a fresh entry was served;
 * - `stale`: a stale entry was served while one background refresh runs (stale-while-revalidate);
 * - `stale-if-error`: a stale entry was served because the integration failed;
 * - `miss`: no entry; the integration answered;
 * - `expired`: an entry too old to serve; the integration answered;
 * - `refresh`: the client asked (Cache-Control, authorised); the integration answered;
 * - `collapsed`: answered by another request's integration call for the same key;
 * - `bypass`: the store could not be used; the integration answered.
 */
export type CacheOutcome = (typeof CACHE_OUTCOMES)[number];
/** Outcomes that went to the integration themselves. */
export type ForwardOutcome = 'miss' | 'expired' | 'refresh' | 'bypass';
/** Why a forwarded response was not stored: a policy's reasons (AWS's or the Alibaba plug-in's), or a store that failed. */
export type NotStoredDetail = NotStorableReason | 'store-unavailable' | 'space-full' | 'no-store' | 'private' | 'no-cache' | 'expired' | 'key-too-long'
  | 'method' | 'authorization' | 'no-freshness' | 'must-understand' | 'partial';

/** RFC 9211 §2.2 `fwd` values used here. */
export type ForwardReason = 'uri-miss' | 'stale' | 'request' | 'bypass';

const FORWARD_REASON: Readonly<Record<ForwardOutcome, ForwardReason>> = {
  miss: 'uri-miss',
  expired: 'stale',
  refresh: 'request',
  bypass: 'bypass',
};

/** Every field of a Cache-Status entry this cache emits; absent fields are left out. */
export interface CacheStatusParts {
  hit?: boolean;
  fwd?: ForwardReason;
  /** The integration's status when a response other than its own was served (RFC 9211 §2.3). */
  fwdStatus?: number;
  /** Seconds of freshness left (RFC 9211 §2.4; negative when stale). */
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  /** A token (RFC 9211 §2.8): why not stored, or how a stale entry was used. */
  detail?: string;
}

/** Formats one Cache-Status entry, parameters in RFC 9211 order. Prefer the constant forms below on the hot path. */
export function cacheStatus(parts: CacheStatusParts): string {
  let value = CACHE_NAME;
  if (parts.hit) value += '; hit';
  if (parts.fwd) value += `; fwd=${parts.fwd}`;
  if (parts.fwdStatus !== undefined) value += `; fwd-status=${parts.fwdStatus}`;
  if (parts.ttl !== undefined) value += `; ttl=${parts.ttl}`;
  if (parts.stored) value += '; stored';
  if (parts.collapsed) value += '; collapsed';
  if (parts.detail) value += `; detail=${parts.detail}`;
  return value;
}

const HIT_PREFIX = `${CACHE_NAME}; hit; ttl=`;

/** A fresh entry served: `cachegate; hit; ttl=287`. */
export function hitStatus(ttlSeconds: number): string {
  return HIT_PREFIX + ttlSeconds;
}

/** A stale entry served while it is refreshed in the background: `cachegate; hit; ttl=-3; detail=revalidating`. */
export function staleWhileRevalidateStatus(ttlSeconds: number): string {
  return `${HIT_PREFIX}${ttlSeconds}; detail=revalidating`;
}

/** A stale entry served because the integration failed (`fwdStatus`: its 5xx, if it answered). */
export function staleIfErrorStatus(ttlSeconds: number, fwdStatus?: number): string {
  return cacheStatus({ hit: true, fwd: 'stale', fwdStatus, ttl: ttlSeconds, detail: 'stale-if-error' });
}

const NOT_STORED_DETAILS: readonly NotStoredDetail[] = [
  'status', 'set-cookie', 'vary-star', 'vary', 'too-large', 'store-unavailable', 'space-full', 'no-store', 'private', 'no-cache', 'expired', 'key-too-long',
  // httpCache (RFC 9111 §3) reasons.
  'method', 'authorization', 'no-freshness', 'must-understand', 'partial',
];

type ForwardTable = Readonly<Record<ForwardOutcome, Readonly<Record<'stored' | NotStoredDetail, string>>>>;
const FORWARD_STATUS: ForwardTable = Object.fromEntries(
  (Object.keys(FORWARD_REASON) as ForwardOutcome[]).map((outcome) => {
    const fwd = FORWARD_REASON[outcome];
    const byResult: Record<string, string> = { stored: cacheStatus({ fwd, stored: true }) };
    for (const detail of NOT_STORED_DETAILS) byResult[detail] = cacheStatus({ fwd, detail });
    return [outcome, Object.freeze(byResult)];
  }),
) as ForwardTable;

/**
 * A response from the integration, and what became of it (constant strings):
 * `forwardStatus('miss', 'stored')` → `cachegate; fwd=uri-miss; stored`,
 * `forwardStatus('refresh', 'too-large')` → `cachegate; fwd=request; detail=too-large`,
 * `forwardStatus('bypass', 'store-unavailable')` → `cachegate; fwd=bypass; detail=store-unavailable`.
 */
export function forwardStatus(outcome: ForwardOutcome, result: 'stored' | NotStoredDetail): string {
  return FORWARD_STATUS[outcome][result];
}

/** RFC 9211 §2.2 `fwd` of a forward outcome. */
export function forwardReason(outcome: ForwardOutcome): ForwardReason {
  return FORWARD_REASON[outcome];
}

const COLLAPSED_STATUS: Readonly<Record<ForwardOutcome, string>> = Object.fromEntries(
  (Object.keys(FORWARD_REASON) as ForwardOutcome[]).map((outcome) => [outcome, cacheStatus({
    fwd: FORWARD_REASON[outcome],
    collapsed: true,
    // With the store unavailable the shared answer was not stored: say why, as its leader's answer does.
    detail: outcome === 'bypass' ? 'store-unavailable' : undefined,
  })]),
) as Record<ForwardOutcome, string>;

/**
 * A request that waited for another one's integration call: `cachegate; fwd=uri-miss; collapsed`
 * (`cachegate; fwd=bypass; collapsed; detail=store-unavailable` with the store unavailable).
 */
export function collapsedStatus(leaderOutcome: ForwardOutcome): string {
  return COLLAPSED_STATUS[leaderOutcome];
}

/** RFC 9211 §2.4 `ttl`: whole seconds of freshness left, rounded down, so an entry past `staleAt` is negative. */
export function ttlSeconds(entry: Pick<CacheEntry, 'staleAt'>, now: number): number {
  return Math.floor((entry.staleAt - now) / 1000);
}

/** RFC 9111 §5.1 `Age`: whole seconds since the entry was stored, never negative. */
export function ageSeconds(entry: Pick<CacheEntry, 'storedAt'>, now: number): number {
  return now <= entry.storedAt ? 0 : Math.floor((now - entry.storedAt) / 1000);
}
