/**
 * A cache policy decides, for one request, whether the cache applies, under which key and in
 * which space, whether the caller may force a refresh, and whether a response may be stored.
 * Two policies share one cache flow (flow.ts): Amazon API Gateway's stage cache and
 * Alibaba's caching plug-in ("a plug-in is a second policy, not a second cache").
 */
import type { HttpMethod } from '../config/schema.js';
import type { RequestContext } from '../gateway/context.js';
import type { IntegrationResponse } from '../integrations/integration.js';
import type { ByteRange, CacheEntry } from './entry.js';
import type { ForwardedInputs } from './key.js';
import type { EntryTimes, Freshness } from './policies/aws/rules.js';
import type { NotStoredDetail } from './status.js';
import type { CacheStore } from './store.js';

/** How long after staleAt an entry may still be served (and how). */
export interface StaleWindows {
  readonly staleWhileRevalidateSeconds: number;
  readonly staleIfErrorSeconds: number;
}

/** One request's way through the cache, as its policy set it up. */
export interface CacheRequest {
  readonly ctx: RequestContext;
  readonly policy: CachePolicy;
  /** The method the entry is keyed and fetched with: GET for a HEAD. */
  readonly keyMethod: HttpMethod;
  readonly space: string;
  readonly store: CacheStore;
  readonly key: string;
  /** What the integration receives: the keyed headers and query as the key holds them (key.ts keyRequest). */
  readonly forwarded: ForwardedInputs;
  readonly forwardsBody: boolean;
  /** The request body, when it was read to key on it. */
  readonly body: Buffer | undefined;
  /** The caller may, and asked to, bypass the entry; the answer replaces it. */
  readonly refresh: boolean;
  /** With `refresh`: not a client's refresh but a request that never uses the cache (an unsafe method under httpCache). */
  readonly passThrough?: boolean;
  /**
   * The request's own headers may make its answer one only it can use (a Range, its validators,
   * Authorization, a request no-store), or its call depends on its caller (a body still streaming
   * from it): it may wait for another's call, but it never leads its key's flight, and an
   * unshareable answer to it says nothing about the key (no hit-for-pass).
   */
  readonly ownAnswer?: boolean;
  /** RFC 9111 §5.2.1.7 only-if-cached: answer 504 rather than go to the integration. */
  readonly onlyIfCached?: boolean;
  readonly windows: StaleWindows;
  /** Headers added to every answer of this request, `[name, value, …]` (e.g. AWS's Warning). */
  readonly extraHeaders: readonly string[];
  /** Headers added to answers served from the cache (e.g. Alibaba's X-Ca-Caching). */
  readonly hitHeaders: readonly string[];
}

export type Admission =
  | { readonly store: true; readonly headers: [string, string][]; readonly times: EntryTimes }
  | { readonly store: false; readonly reason: NotStoredDetail };

export interface CachePolicy {
  /** undefined: the cache does not apply; the gateway forwards as usual. May throw a GatewayError (e.g. 403). */
  begin(ctx: RequestContext): CacheRequest | undefined | Promise<CacheRequest | undefined>;
  /** Whether (and how) the integration's answer is stored. */
  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission;
  /**
   * How a found entry may be used now; without this hook the flow applies the method's stale
   * windows (AWS rules). The HTTP cache decides from the entry's and the request's directives.
   */
  usability?(request: CacheRequest, entry: CacheEntry, now: number): Freshness;
  /** Whether an entry another request fetched (coalescing) may answer this one; absent: always. */
  shares?(request: CacheRequest, entry: CacheEntry): boolean;
  /** The byte range of the entry a Range request asks for, when this policy answers ranges from the cache. */
  range?(request: CacheRequest, entry: CacheEntry): ByteRange | undefined;
  /** Whether an entry of `bytes` may be stored now (the Alibaba plug-in stores nothing when its space is full). */
  hasRoom?(request: CacheRequest, entry: CacheEntry): boolean;
}
