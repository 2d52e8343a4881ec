/**
 * RFC 9111 shared-cache rules (SPEC §6b), pure: request + response headers + times → storable?,
 * freshness lifetime, age, and how a stored response may answer a request. With RFC 5861
 * (stale-while-revalidate, stale-if-error) and RFC 9213 targeted fields (CDN-Cache-Control).
 * No I/O and no clock of its own.
 */
import { CacheDirectives, deltaSeconds, parseCacheControl } from '../../headers/cache-control.js';
import { parseHttpDate } from '../../headers/http-date.js';
import { parseTargetedField } from '../../headers/targeted.js';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface HttpCacheRules {
  /** Of (Date − Last-Modified), RFC 9111 §4.2.2; 0 disables heuristic freshness. */
  readonly heuristicFraction: number;
  /** No freshness lifetime above this, in seconds. */
  readonly maxTtl: number;
  /** RFC 9213 targeted fields honoured before Cache-Control, in order, lower case. */
  readonly targeted: readonly string[];
}

/** RFC 9110 §15.1: statuses cacheable by default, i.e. heuristically (RFC 9111 §4.2.2). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
/**
 * Statuses this cache understands (RFC 9111 §5.2.2.3 must-understand: a response whose status is
 * not among them is not stored when must-understand is given).
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504]);

/** What a response says about caching, read once. */
export interface ResponseDirectives {
  /** The governing directives: the first valid targeted field, else Cache-Control. */
  readonly directives: CacheDirectives;
  /** True when a targeted field governs (Cache-Control and Expires are then ignored, RFC 9213 §2.1). */
  readonly targeted: boolean;
}

export function responseDirectives(headers: Headers, rules: Pick<HttpCacheRules, 'targeted'>): ResponseDirectives {
  for (const name of rules.targeted) {
    const directives = parseTargetedField(headers[name]);
    if (directives) return { directives, targeted: true };
  }
  return { directives: parseCacheControl(headers['cache-control']), targeted: false };
}

export type NotStorable = 'method' | 'status' | 'no-store' | 'private' | 'authorization' | 'no-freshness' | 'vary-star' | 'must-understand' | 'partial';

/**
 * RFC 9111 §3: may a shared cache store this response? `method` is the request's (HEAD answers
 * are stored as GET answers would be: the flow fetches GET for a HEAD).
 */
export function storability(
  request: { readonly method: string; readonly headers: Headers },
  response: { readonly statusCode: number; readonly headers: Headers },
  read: ResponseDirectives,
  lifetimeSeconds: number,
): { readonly store: true } | { readonly store: false; readonly reason: NotStorable } {
  const { directives } = read;
  const { statusCode, headers } = response;
  // §3: "the request method is understood by the cache" and cacheable: GET (and HEAD, as GET).
  if (request.method !== 'GET' && request.method !== 'HEAD') return { store: false, reason: 'method' };
  // §3: a final response; 206 and 304 are not stored as such (§3.3, §4.3.4 update instead).
  if (statusCode < 200 || statusCode === 304) return { store: false, reason: 'status' };
  if (statusCode === 206) return { store: false, reason: 'partial' };
  // §5.2.2.3: must-understand overrides no-store for a status the cache understands.
  const mustUnderstand = directives.has('must-understand');
  if (mustUnderstand && !UNDERSTOOD.has(statusCode)) return { store: false, reason: 'must-understand' };
  if (directives.has('no-store') && !mustUnderstand) return { store: false, reason: 'no-store' };
  // §5.2.1.5: a request's no-store forbids storing its response.
  if (parseCacheControl(request.headers['cache-control']).has('no-store')) return { store: false, reason: 'no-store' };
  // §5.2.2.7: unqualified private is for private caches only.
  if (directives.has('private') && directives.get('private') === undefined) return { store: false, reason: 'private' };
  // §3.5: a request with Authorization only with public, must-revalidate or s-maxage.
  if (request.headers.authorization !== undefined && !directives.has('public') && !directives.has('must-revalidate') && !directives.has('s-maxage')) {
    return { store: false, reason: 'authorization' };
  }
  if (varyNames(headers.vary) === '*') return { store: false, reason: 'vary-star' };
  // §3: explicit freshness, public, or a heuristically cacheable status; and something to reuse it
  // with: freshness, or a validator to revalidate (an entry with neither is never usable).
  const explicit = directives.has('max-age') || directives.has('s-maxage') || (!read.targeted && headers.expires !== undefined);
  if (!explicit && !directives.has('public') && !HEURISTICALLY_CACHEABLE.has(statusCode)) return { store: false, reason: 'status' };
  if (lifetimeSeconds <= 0 && headers.etag === undefined && headers['last-modified'] === undefined) return { store: false, reason: 'no-freshness' };
  return { store: true };
}

/**
 * RFC 9111 §4.2.1 freshness lifetime, seconds, for a shared cache: s-maxage, max-age, Expires −
 * Date, then the heuristic of §4.2.2; never above maxTtl. Invalid or conflicting freshness
 * information means stale (0).
 */
export function freshnessLifetime(response: { readonly statusCode: number; readonly headers: Headers }, read: ResponseDirectives, rules: HttpCacheRules, responseTime: number): number {
  const { directives } = read;
  const { headers } = response;
  const cap = (seconds: number) => Math.max(0, Math.min(seconds, rules.maxTtl));
  // §5.2.2.10: s-maxage wins for a shared cache.
  const sMaxage = directives.seconds('s-maxage');
  if (sMaxage !== undefined) return sMaxage === 'invalid' ? 0 : cap(sMaxage);
  const maxAge = directives.seconds('max-age');
  if (maxAge !== undefined) return maxAge === 'invalid' ? 0 : cap(maxAge);
  if (!read.targeted && headers.expires !== undefined) {
    // §5.3: an invalid Expires (a bad date, several lines) means already expired.
    const expires = parseHttpDate(headers.expires, responseTime);
    if (expires === undefined) return 0;
    const date = parseHttpDate(headers.date, responseTime) ?? responseTime;
    return cap(Math.floor((expires - date) / 1000));
  }
  // §4.2.2: heuristic freshness only where the status or `public` allows it, from Last-Modified.
  if (rules.heuristicFraction > 0 && (HEURISTICALLY_CACHEABLE.has(response.statusCode) || directives.has('public'))) {
    const lastModified = parseHttpDate(headers['last-modified'], responseTime);
    if (lastModified !== undefined) {
      const date = parseHttpDate(headers.date, responseTime) ?? responseTime;
      // Not rounded to whole seconds: 10% of 5 s is half a second of freshness, not none.
      if (date > lastModified) return cap(((date - lastModified) / 1000) * rules.heuristicFraction);
    }
  }
  return 0;
}

/**
 * RFC 9111 §4.2.3 corrected initial age, seconds, of a response received at `responseTime` for a
 * request sent at `requestTime` (epoch ms): the larger of the apparent age (Date) and the
 * upstream Age plus the response delay.
 */
export function correctedInitialAge(headers: Headers, requestTime: number, responseTime: number): number {
  const date = parseHttpDate(headers.date, responseTime);
  const apparentAge = date === undefined ? 0 : Math.max(0, (responseTime - date) / 1000);
  const responseDelay = Math.max(0, (responseTime - requestTime) / 1000);
  return Math.max(apparentAge, ageValue(headers.age) + responseDelay);
}

/**
 * RFC 9111 §5.1 Age: delta-seconds. Several values (lines or a list): the first counts; an
 * invalid value (negative, fraction, text) is ignored (0).
 */
export function ageValue(field: string | string[] | undefined): number {
  if (field === undefined) return 0;
  const first = (typeof field === 'string' ? field : field[0] ?? '').split(',')[0]!.trim();
  const seconds = deltaSeconds(first);
  return seconds === 'invalid' ? 0 : seconds;
}

/** A Vary field's names, lower case, sorted and deduplicated; `'*'` when it holds `*`; '' when none. */
export function varyNames(field: string | string[] | undefined): string {
  if (field === undefined) return '';
  const names = new Set<string>();
  for (const line of typeof field === 'string' ? [field] : field) {
    for (const item of line.split(',')) {
      const name = item.trim().toLowerCase();
      // RFC 9110 §12.5.5: `*` signals variation beyond request headers: never matched.
      if (name === '*') return '*';
      if (name !== '') names.add(name);
    }
  }
  return [...names].sort().join(',');
}

/** What the stored response's directives allow when it is stale (read once when it is stored). */
export interface StalePermissions {
  /** must-revalidate, proxy-revalidate or s-maxage (RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10): never served stale. */
  readonly mustRevalidate: boolean;
  /** no-cache without field names (§5.2.2.4): never served without validation. */
  readonly noCache: boolean;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
}

export function stalePermissions(read: ResponseDirectives): StalePermissions {
  const { directives } = read;
  const window = (name: string) => {
    const seconds = directives.seconds(name);
    return typeof seconds === 'number' ? seconds : 0;
  };
  return {
    mustRevalidate: directives.has('must-revalidate') || directives.has('proxy-revalidate') || directives.has('s-maxage'),
    noCache: directives.has('no-cache') && directives.get('no-cache') === undefined,
    staleWhileRevalidate: window('stale-while-revalidate'),
    staleIfError: window('stale-if-error'),
  };
}

/**
 * How a stored response may answer a request (RFC 9111 §4, §5.2.1; RFC 5861):
 * - `fresh`: serve it;
 * - `stale-while-revalidate`: serve it, revalidate in the background;
 * - `stale-if-error-only`: validate; serve it if the origin fails;
 * - `expired`: validate (a conditional request when it has validators).
 */
export type Usability = 'fresh' | 'stale-while-revalidate' | 'stale-if-error-only' | 'expired';

export function usability(entry: { readonly storedAt: number; readonly staleAt: number }, permissions: StalePermissions, requestHeaders: Headers, now: number): Usability {
  const request = requestDirectives(requestHeaders);
  const age = (now - entry.storedAt) / 1000;
  const lifetime = (entry.staleAt - entry.storedAt) / 1000;
  const staleness = age - lifetime;
  const fallback = (): Usability => {
    if (permissions.mustRevalidate) return 'expired';
    const staleIfError = typeof request.staleIfError === 'number' ? Math.max(request.staleIfError, permissions.staleIfError) : permissions.staleIfError;
    return staleness < staleIfError ? 'stale-if-error-only' : 'expired';
  };
  // §5.2.1.4 request no-cache, §5.2.2.4 response no-cache: validate every time.
  if (request.noCache || permissions.noCache) return fallback();
  // §5.2.1.1: an age above the request's max-age needs validation.
  if (request.maxAge !== undefined && age > request.maxAge) return fallback();
  if (staleness < 0) {
    // §5.2.1.3 min-fresh: at least that much freshness left.
    if (request.minFresh !== undefined && -staleness < request.minFresh) return fallback();
    return 'fresh';
  }
  if (permissions.mustRevalidate) return 'expired';
  // §5.2.1.2 max-stale: the client accepts a stale response (of at most N seconds when given).
  if (request.maxStale !== undefined && (request.maxStale === 'any' || staleness <= request.maxStale)) return 'fresh';
  if (staleness < permissions.staleWhileRevalidate) return 'stale-while-revalidate';
  return fallback();
}

interface RequestDirectives {
  readonly noCache: boolean;
  readonly maxAge: number | undefined;
  readonly minFresh: number | undefined;
  readonly maxStale: number | 'any' | undefined;
  readonly staleIfError: number | undefined;
  readonly onlyIfCached: boolean;
}

const NO_REQUEST_DIRECTIVES: RequestDirectives = { noCache: false, maxAge: undefined, minFresh: undefined, maxStale: undefined, staleIfError: undefined, onlyIfCached: false };

/** RFC 9111 §5.2.1 request directives; §5.4: `Pragma: no-cache` counts only without Cache-Control. */
export function requestDirectives(headers: Headers): RequestDirectives {
  const field = headers['cache-control'];
  if (field === undefined) {
    const pragma = headers.pragma;
    if (pragma !== undefined && parseCacheControl(pragma).has('no-cache')) return { ...NO_REQUEST_DIRECTIVES, noCache: true };
    return NO_REQUEST_DIRECTIVES;
  }
  const directives = parseCacheControl(field);
  const number = (name: string) => {
    const seconds = directives.seconds(name);
    // An invalid value asks for nothing, except max-age where it is safest as 0 (validate).
    if (seconds === 'invalid') return name === 'max-age' ? 0 : undefined;
    return seconds;
  };
  const maxStale = directives.has('max-stale') ? (directives.get('max-stale') === undefined ? 'any' as const : number('max-stale')) : undefined;
  return {
    noCache: directives.has('no-cache'),
    maxAge: number('max-age'),
    minFresh: number('min-fresh'),
    maxStale,
    staleIfError: number('stale-if-error'),
    onlyIfCached: directives.has('only-if-cached'),
  };
}

/** Request methods RFC 9110 §9.2.1 defines as safe; any other method invalidates (RFC 9111 §4.4). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * RFC 9111 §4.4: after a non-error answer to an unsafe request, the target URI and the same-origin
 * Location / Content-Location URIs are invalidated. Returns the paths (with query) to invalidate,
 * relative to the request's origin; cross-origin references are ignored (§4.4: "MUST NOT").
 */
export function invalidatedTargets(statusCode: number, responseHeaders: Headers, requestUrl: URL, backendUrl?: URL, requestTarget?: string): string[] {
  if (statusCode < 200 || statusCode >= 400) return [];
  // The request's own target as it was keyed: WHATWG URL re-encodes some characters (`'` in a
  // query, for one), and the re-encoded spelling is another key.
  const targets = [requestTarget ?? requestUrl.pathname + requestUrl.search];
  if (requestTarget !== undefined && requestTarget !== requestUrl.pathname + requestUrl.search) targets.push(requestUrl.pathname + requestUrl.search);
  for (const name of ['location', 'content-location']) {
    const value = responseHeaders[name];
    if (typeof value !== 'string') continue;
    let target: URL;
    try {
      // The backend wrote the reference against its own URL: resolve it there, then map it back to
      // the gateway's (the origin the gateway fronts counts as the same origin).
      target = new URL(value, backendUrl ?? requestUrl);
    } catch {
      continue;
    }
    if (backendUrl && target.origin === backendUrl.origin) {
      const mapped = gatewayPath(target.pathname, backendUrl.pathname, requestUrl.pathname);
      if (mapped !== undefined) targets.push(mapped + target.search);
    } else if (target.origin === requestUrl.origin) {
      targets.push(target.pathname + target.search);
    }
  }
  return targets;
}

/**
 * A backend path as the gateway serves it: the request's backend and gateway paths share a tail
 * (the greedy part); what precedes it is the backend's prefix and the gateway's. A path outside
 * the backend's prefix is not reachable through this route (undefined).
 */
function gatewayPath(target: string, backendPath: string, requestPath: string): string | undefined {
  let shared = 0;
  while (shared < backendPath.length && shared < requestPath.length && backendPath[backendPath.length - 1 - shared] === requestPath[requestPath.length - 1 - shared]) shared++;
  // Cut at a segment boundary so `/api/x` and `/s/x` share `/x`, not `i/x`.
  const tail = backendPath.slice(backendPath.length - shared);
  const cut = tail.indexOf('/');
  if (cut < 0) return undefined;
  const backendPrefix = backendPath.slice(0, backendPath.length - shared + cut);
  const gatewayPrefix = requestPath.slice(0, requestPath.length - shared + cut);
  if (!target.startsWith(`${backendPrefix}/`) && target !== backendPrefix) return undefined;
  return gatewayPrefix + target.slice(backendPrefix.length);
}
