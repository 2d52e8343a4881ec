/**
 * Amazon API Gateway's cache policy (pure): stage + methodSettings → the settings of one method;
 * response + settings → store or not; settings → absolute times. No I/O, no clocks of its own.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpMethod, MethodSettingInput, StageConfig, UnauthorizedCacheControlHeaderStrategy } from '../config/schema.js';
import { methodSettingsKey } from '../config/naming.js';

/** AWS: a response larger than 1 MB (1,048,576 bytes) is returned but not cached. */
export const MAX_CACHEABLE_BODY_BYTES = 1_048_576;

export interface ResolvedMethodSettings {
  /** Effective: stage cache on, caching enabled for this method, and a TTL above 0. */
  readonly cachingEnabled: boolean;
  readonly cacheTtlInSeconds: number;
  readonly cacheDataEncrypted: boolean;
  readonly requireAuthorizationForCacheControl: boolean;
  readonly unauthorizedCacheControlHeaderStrategy: UnauthorizedCacheControlHeaderStrategy;
  readonly staleWhileRevalidateSeconds: number;
  readonly staleIfErrorSeconds: number;
  /** undefined: any 2xx (AWS). */
  readonly cacheableStatusCodes: ReadonlySet<number> | undefined;
  readonly cacheResponsesWithSetCookie: boolean;
  readonly metricsEnabled: boolean;
}

// AWS defaults for a method setting.
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
 * Merges `*\/*` < `{path}/ANY` < `{path}/{METHOD}` field by field. `cachingEnabled` is special
 * (AWS): GET is cached by default and `*\/*` speaks for GET only; any other method is cached only
 * when a setting of its own resource turns it on.
 */
export function resolveMethodSettings(stage: StageConfig, resourcePath: string, method: HttpMethod): ResolvedMethodSettings {
  const all = stage.methodSettings['*/*'];
  const any = stage.methodSettings[methodSettingsKey(resourcePath, 'ANY')];
  const own = stage.methodSettings[methodSettingsKey(resourcePath, method)];
  const layers = [all, any, own].filter((layer): layer is MethodSettingInput => layer !== undefined);
  const pick = <K extends keyof MethodSettingInput>(field: K): MethodSettingInput[K] => {
    let value: MethodSettingInput[K] = undefined;
    for (const layer of layers) if (layer[field] !== undefined) value = layer[field];
    return value;
  };
  const cachingEnabled = method === 'GET'
    ? own?.cachingEnabled ?? any?.cachingEnabled ?? all?.cachingEnabled ?? true
    : own?.cachingEnabled ?? any?.cachingEnabled ?? false;
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
    cacheableStatusCodes: statusCodes ? new Set(statusCodes) : undefined,
    cacheResponsesWithSetCookie: pick('cacheResponsesWithSetCookie') ?? DEFAULTS.cacheResponsesWithSetCookie,
    metricsEnabled: pick('metricsEnabled') ?? DEFAULTS.metricsEnabled,
  });
}

export type NotStoredReason = 'status' | 'set-cookie' | 'vary';
export type Storability = { store: true } | { store: false; reason: NotStoredReason };

/**
 * Whether a response may be stored. AWS ignores the backend's Cache-Control and so do we; but a
 * `Vary` naming anything outside the cache key (or `*`) cannot be honoured, so it is not stored.
 */
export function storability(
  response: { statusCode: number; headers: Record<string, string | string[]> },
  settings: ResolvedMethodSettings,
  keyedHeaderNames: ReadonlySet<string>,
): Storability {
  const { statusCode, headers } = response;
  const cacheable = settings.cacheableStatusCodes ? settings.cacheableStatusCodes.has(statusCode) : statusCode >= 200 && statusCode < 300;
  if (!cacheable) return { store: false, reason: 'status' };
  if (headers['set-cookie'] !== undefined && !settings.cacheResponsesWithSetCookie) return { store: false, reason: 'set-cookie' };
  const vary = headers.vary;
  if (vary !== undefined) {
    for (const name of (Array.isArray(vary) ? vary.join(',') : vary).split(',')) {
      const header = name.trim().toLowerCase();
      if (header !== '' && !keyedHeaderNames.has(header)) return { store: false, reason: 'vary' };
    }
  }
  return { store: true };
}

/** Absolute times of a new entry: fresh for the TTL, then kept as long as a stale window may use it. */
export function entryTimes(now: number, settings: ResolvedMethodSettings): { storedAt: number; staleAt: number; deleteAt: number } {
  const staleAt = now + settings.cacheTtlInSeconds * 1000;
  return { storedAt: now, staleAt, deleteAt: staleAt + Math.max(settings.staleWhileRevalidateSeconds, settings.staleIfErrorSeconds) * 1000 };
}

/**
 * What a client's Cache-Control asks of the cache: `max-age=0` or `no-cache` ask for a fresh
 * answer (AWS per-key invalidation). RFC 9111 §5.4: `Pragma: no-cache` counts only without Cache-Control.
 */
export function clientCacheControl(headers: IncomingHttpHeaders): 'none' | 'invalidate' {
  const cacheControl = headers['cache-control'];
  if (cacheControl === undefined) return /(^|,)\s*no-cache\s*(,|$)/i.test(String(headers.pragma ?? '')) ? 'invalidate' : 'none';
  for (const directive of cacheControl.toLowerCase().split(',')) {
    const [name, value] = directive.trim().split('=');
    if (name === 'no-cache' || (name === 'max-age' && Number(value?.replace(/"/g, '')) === 0)) return 'invalidate';
  }
  return 'none';
}
