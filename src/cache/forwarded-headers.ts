/**
 * Cache-poisoning defence: when a response may be stored and served to others, the integration
 * sees only the request headers that are part of the cache key. A header outside the key then
 * cannot change a cached body (X-Forwarded-Host, Accept-Language, Authorization, …). Framing
 * headers of a forwarded body are kept. The query string is passed as it is (AWS semantics:
 * parameters outside the key reach the backend but never split entries).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { REQUEST_PARAMETER } from '../config/schema.js';

const BODY_FRAMING = ['content-type', 'content-length', 'transfer-encoding', 'content-encoding'];

export interface HeaderFilter {
  readonly names: ReadonlySet<string>;
  /** Set: every header but these is kept (httpCache, whose key is protected by Vary instead). */
  readonly except?: ReadonlySet<string>;
}

/** The lower-case header names a method's cache key uses. Computed once per method. */
export function keyedHeaderFilter(cacheKeyParameters: readonly string[], forwardsBody: boolean): HeaderFilter {
  const names = new Set<string>(forwardsBody ? BODY_FRAMING : []);
  for (const parameter of cacheKeyParameters) {
    const [, location, name] = REQUEST_PARAMETER.exec(parameter) ?? [];
    if ((location === 'header' || location === 'multivalueheader') && name) names.add(name.toLowerCase());
  }
  return { names };
}

export function filterHeaders(filter: HeaderFilter, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): { headers: IncomingHttpHeaders; rawHeaders: string[] } {
  if (filter.except) return allExcept(filter.except, headers, rawHeaders);
  const kept: IncomingHttpHeaders = {};
  for (const name of filter.names) if (headers[name] !== undefined) kept[name] = headers[name] as string;
  const raw: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (filter.names.has(rawHeaders[i]!.toLowerCase())) raw.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return { headers: kept, rawHeaders: raw };
}

function allExcept(except: ReadonlySet<string>, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): { headers: IncomingHttpHeaders; rawHeaders: string[] } {
  const kept: IncomingHttpHeaders = {};
  for (const name in headers) if (!except.has(name)) kept[name] = headers[name];
  const raw: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!except.has(rawHeaders[i]!.toLowerCase())) raw.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return { headers: kept, rawHeaders: raw };
}
