/**
 * Alibaba Cloud API Gateway's caching plug-in (SPEC §6), as pure rules: how long a response
 * lives, which of its headers are kept, and whether a caller may ask for a fresh answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_ALIBABA_TTL_SECONDS, type CachePluginConfig } from '../../../config/schema.js';
import { clientCacheControl } from '../aws/rules.js';

export type AlibabaLifetime =
  | { readonly store: true; readonly ttlSeconds: number; readonly staleWhileRevalidateSeconds: number }
  | { readonly store: false; readonly reason: 'no-store' | 'private' | 'no-cache' | 'expired' };

/**
 * The backend decides first: `Cache-Control` (`s-maxage` wins over `max-age` for a shared cache,
 * RFC 9111 §5.2.2.10; `no-store`, `no-cache`, `private` mean not stored), then `Expires`
 * (relative to the backend's `Date`), else the plug-in's `duration` — never above 48 h.
 */
export function alibabaLifetime(headers: Readonly<Record<string, string | string[]>>, plugin: CachePluginConfig, now: number): AlibabaLifetime {
  const directives = parseCacheControl(headers['cache-control']);
  for (const reason of ['no-store', 'private', 'no-cache'] as const) if (directives.has(reason)) return { store: false, reason };
  const staleWhileRevalidateSeconds = seconds(directives.get('stale-while-revalidate')) ?? 0;
  let ttl = seconds(directives.get('s-maxage')) ?? seconds(directives.get('max-age'));
  if (ttl === undefined && headers.expires !== undefined) {
    const expires = Date.parse(String(headers.expires));
    const date = headers.date !== undefined ? Date.parse(String(headers.date)) : now;
    // RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired.
    ttl = Number.isNaN(expires) ? 0 : Math.floor((expires - (Number.isNaN(date) ? now : date)) / 1000);
  }
  ttl ??= plugin.duration;
  if (ttl <= 0) return { store: false, reason: 'expired' };
  return { store: true, ttlSeconds: Math.min(ttl, MAX_ALIBABA_TTL_SECONDS), staleWhileRevalidateSeconds };
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

function parseCacheControl(value: string | string[] | undefined): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>();
  if (value === undefined) return directives;
  for (const item of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const [name, argument] = item.split('=');
    const key = name!.trim().toLowerCase();
    if (key) directives.set(key, argument?.trim().replace(/^"|"$/g, ''));
  }
  return directives;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}
