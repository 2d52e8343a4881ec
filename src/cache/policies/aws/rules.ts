/**
 * Amazon API Gateway's cache policy (pure, SPEC §5 and §7): stage + methodSettings → the frozen
 * settings of one method; response + settings → store or not; settings → absolute times; an
 * entry's times + now → how it may be used. No I/O and no clock of its own: callers pass `now`.
 *
 * Stale windows live in the settings, not in the entry: the entry carries `staleAt` and a
 * `deleteAt` wide enough for the larger window; `freshness()` applies the current method setting,
 * so shrinking `staleWhileRevalidateSeconds` takes effect at once for entries already stored.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpMethod, MethodSettingInput, StageConfig, UnauthorizedCacheControlHeaderStrategy } from '../../../config/schema.js';
import { methodSettingsKey } from '../../../config/naming.js';
import type { CacheEntry } from '../../entry.js';
import { parseCacheControl } from '../../headers/cache-control.js';

/** AWS: a response larger than 1 MB (1,048,576 bytes) is returned but not cached. */
export const MAX_CACHEABLE_BODY_BYTES = 1_048_576;

export interface ResolvedMethodSettings {
  /**
   * Effective caching: the stage cache is on, `cachingEnabled` resolves true for this method, and
   * `cacheTtlInSeconds` is above 0 (AWS: TTL 0 disables caching).
   */
  readonly cachingEnabled: boolean;
  readonly cacheTtlInSeconds: number;
  readonly cacheDataEncrypted: boolean;
  readonly requireAuthorizationForCacheControl: boolean;
  readonly unauthorizedCacheControlHeaderStrategy: UnauthorizedCacheControlHeaderStrategy;
  readonly staleWhileRevalidateSeconds: number;
  readonly staleIfErrorSeconds: number;
  /** The statuses stored (default 200..299, as AWS). */
  readonly cacheableStatusCodes: ReadonlySet<number>;
  readonly cacheResponsesWithSetCookie: boolean;
  readonly metricsEnabled: boolean;
}

const TWO_HUNDREDS: ReadonlySet<number> = new Set(Array.from({ length: 100 }, (_, i) => 200 + i));

// AWS defaults of a method setting, plus ours (SPEC §7) for the fields AWS does not have.
const DEFAULTS = {
  cacheTtlInSeconds: 300,
  cacheDataEncrypted: false,
  requireAuthorizationForCacheControl: true,
  unauthorizedCacheControlHeaderStrategy: 'SUCCEED_WITH_RESPONSE_HEADER',
  staleWhileRevalidateSeconds: 0,
  staleIfErrorSeconds: 0,
  cacheResponsesWithSetCookie: false,
  metricsEnabled: false,
} as const;

/**
 * The settings of one method of a stage, merged field by field from the least to the most
 * specific key: `*\/*` < `{path}/ANY` < `{path}/{METHOD}`. HEAD is answered from and fills the
 * GET entry (SPEC §5), so it follows GET's settings.
 *
 * `cachingEnabled` is special (SPEC §5, AWS): GET is cached by default when the stage cache is
 * on, and `*\/*` and `{path}/ANY` speak for GET only; any other method is cached only when its
 * own key (`pets/{petId}/POST`) turns it on. Call once per stage and method, when config changes.
 */
export function resolveMethodSettings(stage: StageConfig, resourcePath: string, method: HttpMethod): ResolvedMethodSettings {
  const keyMethod = method === 'HEAD' ? 'GET' : method;
  const all = stage.methodSettings['*/*'];
  const any = stage.methodSettings[methodSettingsKey(resourcePath, 'ANY')];
  const own = stage.methodSettings[methodSettingsKey(resourcePath, keyMethod)];
  const layers = [all, any, own].filter((layer): layer is MethodSettingInput => layer !== undefined);
  const pick = <K extends keyof MethodSettingInput>(field: K): MethodSettingInput[K] => {
    let value: MethodSettingInput[K] = undefined;
    for (const layer of layers) if (layer[field] !== undefined) value = layer[field];
    return value;
  };

  const cachingEnabled =
    keyMethod === 'GET' ? (own?.cachingEnabled ?? any?.cachingEnabled ?? all?.cachingEnabled ?? true) : (own?.cachingEnabled ?? false);
  const cacheTtlInSeconds = pick('cacheTtlInSeconds') ?? DEFAULTS.cacheTtlInSeconds;
  const statusCodes = pick('cacheableStatusCodes');
  return Object.freeze({
    // AWS: TTL 0 disables caching.
    cachingEnabled: stage.cacheClusterEnabled && cachingEnabled && cacheTtlInSeconds > 0,
    cacheTtlInSeconds,
    cacheDataEncrypted: pick('cacheDataEncrypted') ?? DEFAULTS.cacheDataEncrypted,
    requireAuthorizationForCacheControl: pick('requireAuthorizationForCacheControl') ?? DEFAULTS.requireAuthorizationForCacheControl,
    unauthorizedCacheControlHeaderStrategy: pick('unauthorizedCacheControlHeaderStrategy') ?? DEFAULTS.unauthorizedCacheControlHeaderStrategy,
    staleWhileRevalidateSeconds: pick('staleWhileRevalidateSeconds') ?? DEFAULTS.staleWhileRevalidateSeconds,
    staleIfErrorSeconds: pick('staleIfErrorSeconds') ?? DEFAULTS.staleIfErrorSeconds,
    cacheableStatusCodes: statusCodes ? new Set(statusCodes) : TWO_HUNDREDS,
    cacheResponsesWithSetCookie: pick('cacheResponsesWithSetCookie') ?? DEFAULTS.cacheResponsesWithSetCookie,
    metricsEnabled: pick('metricsEnabled') ?? DEFAULTS.metricsEnabled,
  });
}

/**
 * Why a response was not stored; also its `Cache-Status` detail (status.ts) and a metric label.
 * `vary` is only given when the caller passes the keyed header names (see storability).
 */
export type NotStorableReason = 'status' | 'set-cookie' | 'vary-star' | 'vary' | 'too-large';
export type Storability = { readonly store: true } | { readonly store: false; readonly reason: NotStorableReason };

const STORE: Storability = Object.freeze({ store: true });
const NOT_STORED = Object.fromEntries(
  (['status', 'set-cookie', 'vary-star', 'vary', 'too-large'] as const).map((reason) => [reason, Object.freeze({ store: false, reason })]),
) as Record<NotStorableReason, Storability>;

/**
 * Whether a response may be stored. Header names are lower case (IntegrationResponse).
 * AWS ignores the backend's Cache-Control and so do we; but `Vary: *` cannot be keyed, so such a
 * response is never stored. With `keyedHeaderNames`, a Vary naming any header outside the key
 * is refused too (reason `vary`). `bodyLength` undefined: not known yet; the caller then stops
 * buffering at MAX_CACHEABLE_BODY_BYTES.
 */
export function storability(
  response: { readonly statusCode: number; readonly headers: Readonly<Record<string, string | string[]>>; readonly bodyLength?: number },
  settings: Pick<ResolvedMethodSettings, 'cacheableStatusCodes' | 'cacheResponsesWithSetCookie'>,
  keyedHeaderNames?: ReadonlySet<string>,
): Storability {
  if (!settings.cacheableStatusCodes.has(response.statusCode)) return NOT_STORED.status;
  // AWS never caches a response that sets a cookie: one caller's session would go to everyone.
  if (response.headers['set-cookie'] !== undefined && !settings.cacheResponsesWithSetCookie) return NOT_STORED['set-cookie'];
  const vary = response.headers.vary;
  if (vary !== undefined) {
    for (const item of Array.isArray(vary) ? vary : [vary]) {
      for (const name of item.split(',')) {
        const header = name.trim().toLowerCase();
        // RFC 9110 §12.5.5: `*` means the response varies on more than request headers.
        if (header === '*') return NOT_STORED['vary-star'];
        if (keyedHeaderNames && header !== '' && !keyedHeaderNames.has(header)) return NOT_STORED.vary;
      }
    }
  }
  if (response.bodyLength !== undefined && response.bodyLength > MAX_CACHEABLE_BODY_BYTES) return NOT_STORED['too-large'];
  return STORE;
}

export interface EntryTimes {
  readonly storedAt: number;
  readonly staleAt: number;
  readonly deleteAt: number;
}

/** Absolute times of a new entry: fresh for the TTL, then kept as long as a stale window may use it. */
export function entryTimes(now: number, settings: ResolvedMethodSettings): EntryTimes {
  const staleAt = now + settings.cacheTtlInSeconds * 1000;
  const staleWindowMs = Math.max(settings.staleWhileRevalidateSeconds, settings.staleIfErrorSeconds) * 1000;
  return { storedAt: now, staleAt, deleteAt: staleAt + staleWindowMs };
}

/**
 * How a found entry may be used at `now`:
 * - `fresh`: serve it (before `staleAt`);
 * - `stale-while-revalidate`: serve it and refresh it in the background (SPEC §7);
 * - `stale-if-error-only`: go to the integration; serve it only if that fails;
 * - `expired`: do not serve it at all.
 * Windows start at `staleAt` and never outlast `deleteAt`.
 */
export type Freshness = 'fresh' | 'stale-while-revalidate' | 'stale-if-error-only' | 'expired';

export function freshness(entry: Pick<CacheEntry, 'staleAt' | 'deleteAt'>, now: number, settings: Pick<ResolvedMethodSettings, 'staleWhileRevalidateSeconds' | 'staleIfErrorSeconds'>): Freshness {
  if (now < entry.staleAt) return 'fresh';
  if (now >= entry.deleteAt) return 'expired';
  if (now < entry.staleAt + settings.staleWhileRevalidateSeconds * 1000) return 'stale-while-revalidate';
  if (now < entry.staleAt + settings.staleIfErrorSeconds * 1000) return 'stale-if-error-only';
  return 'expired';
}

/**
 * What a client's request headers ask of the cache: `Cache-Control: max-age=0` (AWS per-key
 * invalidation) or `no-cache` among any other directives ask for an answer from the integration,
 * whose response then replaces the entry. RFC 9111 §5.4: `Pragma: no-cache` counts only when the
 * request has no Cache-Control. Whether the caller may do so is decided elsewhere (authorisation).
 */
export function clientCacheControl(headers: IncomingHttpHeaders): 'none' | 'invalidate' {
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined) return asksForRefresh(cacheControl, true) ? 'invalidate' : 'none';
  const pragma = headers.pragma;
  return pragma !== undefined && asksForRefresh(pragma, false) ? 'invalidate' : 'none';
}

function asksForRefresh(value: string | string[], cacheControl: boolean): boolean {
  const directives = parseCacheControl(value);
  if (directives.has('no-cache')) return true;
  // RFC 9111 §1.2.2 delta-seconds (the quoted form accepted, §5.2): max-age=0 asks for a fresh answer.
  return cacheControl && directives.get('max-age') !== undefined && directives.seconds('max-age') === 0;
}
