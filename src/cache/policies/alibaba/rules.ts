/**
 * Alibaba Cloud API Gateway's caching plug-in (SPEC §6), as pure rules: how long a response
 * lives, which of its headers are kept, and whether a caller may ask for a fresh answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_ALIBABA_TTL_SECONDS, type CachePluginConfig } from '../../../config/schema.js';
import { clientCacheControl } from '../aws/rules.js';
import { parseCacheControl } from '../../headers/cache-control.js';
import { parseHttpDate } from '../../headers/http-date.js';
import { ageValue } from '../http/rules.js';

export type AlibabaLifetime =
  | { readonly store: true; readonly lifetimeSeconds: number; readonly ageSeconds: number }
  | { readonly store: false; readonly reason: 'no-store' | 'private' | 'no-cache' | 'expired' | 'status' };

/** Statuses the plug-in's `duration` applies to: 2xx answers cacheable by default (RFC 9110 §15.1; not 201/202, nor partial 206). */
const DURATION_STATUSES: ReadonlySet<number> = new Set([200, 203, 204]);

/**
 * The backend decides first: `Cache-Control` (`s-maxage` wins over `max-age` for a shared cache,
 * RFC 9111 §5.2.2.10; `no-store`, `no-cache`, `private` mean not stored), then `Expires`
 * (relative to the backend's `Date`; a value that is no HTTP-date means expired, RFC 9111 §5.3),
 * else the plug-in's `duration` — for statuses cacheable by default only — never above 48 h.
 * The upstream `Age` (RFC 9111 §5.1) has already used part of that lifetime.
 */
export function alibabaLifetime(headers: Readonly<Record<string, string | string[]>>, plugin: CachePluginConfig, now: number, statusCode = 200): AlibabaLifetime {
  const directives = parseCacheControl(headers['cache-control']);
  for (const reason of ['no-store', 'private', 'no-cache'] as const) if (directives.has(reason)) return { store: false, reason };
  const explicit = (name: string) => {
    const seconds = directives.seconds(name);
    // RFC 9111 §4.2.1: invalid freshness information means stale.
    return seconds === 'invalid' ? 0 : seconds;
  };
  let ttl = explicit('s-maxage') ?? explicit('max-age');
  if (ttl === undefined && headers.expires !== undefined) {
    const expires = parseHttpDate(headers.expires, now);
    const date = parseHttpDate(headers.date, now) ?? now;
    ttl = expires === undefined ? 0 : Math.floor((expires - date) / 1000);
  }
  if (ttl === undefined) {
    if (!DURATION_STATUSES.has(statusCode)) return { store: false, reason: 'status' };
    ttl = plugin.duration;
  }
  const lifetime = Math.min(ttl, MAX_ALIBABA_TTL_SECONDS);
  const age = ageValue(headers.age);
  if (lifetime - age <= 0) return { store: false, reason: 'expired' };
  return { store: true, lifetimeSeconds: lifetime, ageSeconds: age };
}

/**
 * The headers kept with a body: Content-Type, Content-Encoding, Content-Language and
 * Content-Length (as Alibaba documents today, SPEC §6) — a stored body is never replayed without
 * the encoding it was received with — plus the plug-in's cacheableHeaders.
 */
export function keptHeaderNames(plugin: CachePluginConfig): ReadonlySet<string> {
  return new Set(['content-type', 'content-encoding', 'content-language', 'content-length', ...plugin.cacheableHeaders.map((name) => name.toLowerCase())]);
}

/**
 * Whether a client's `Cache-Control: no-cache` / `max-age=0` is honoured: never with mode `off`
 * (the default), for everyone with `all`, and with `app` only for the listed app ids.
 */
export function mayRefresh(plugin: CachePluginConfig, headers: IncomingHttpHeaders, appId: string | undefined): boolean {
  const { mode, apps } = plugin.clientCacheControl;
  if (mode === 'off' || clientCacheControl(headers) !== 'invalidate') return false;
  return mode === 'all' || (appId !== undefined && apps.includes(appId));
}
