/**
 * The standard HTTP cache (SPEC §6b) as a cache policy: RFC 9111 for a shared cache, chosen per
 * method with `httpCache: NAME`. The key is the method class (GET and HEAD share), host, path and
 * the whole query; request headers go to the integration end to end (hop-by-hop and what the
 * gateway derives removed), and Vary (variants.ts) keeps one caller's variant from another.
 * Unsafe methods go through and invalidate (RFC 9111 §4.4).
 */
import type { HttpCacheConfig, HttpMethod } from '../../../config/schema.js';
import type { RequestContext } from '../../../gateway/context.js';
import type { MethodRoute } from '../../../gateway/runtime.js';
import type { IntegrationResponse } from '../../../integrations/integration.js';
import type { Admission, CachePolicy, CacheRequest, StaleWindows } from '../../cache-policy.js';
import type { ByteRange, CacheEntry } from '../../entry.js';
import { requestedRange } from './range.js';
import { TargetUriTemplate } from '../../../integrations/target-uri.js';
import type { ForwardedInputs } from '../../key.js';
import type { Freshness } from '../aws/rules.js';
import { parseCacheControl } from '../../headers/cache-control.js';
import { deleteBestEffort, stageId, type CacheStore } from '../../store.js';
import {
  correctedInitialAge, freshnessLifetime, invalidatedTargets, requestDirectives, responseDirectives, SAFE_METHODS, stalePermissions,
  storability, usability, varyNames, type HttpCacheRules, type StalePermissions,
} from './rules.js';
import { VariantStore } from './variants.js';
import { hopByHopNames } from '../../../integrations/headers.js';

const NONE: readonly string[] = [];
/** Stale windows come from each entry's own directives (usability()); the flow's windows are unused. */
const ENTRY_WINDOWS: StaleWindows = { staleWhileRevalidateSeconds: 0, staleIfErrorSeconds: 0 };
/**
 * How long an entry is kept after it is stored, stale or not, for conditional revalidation
 * (RFC 9111 §4.3) and `max-stale` requests: the LRU budget bounds the bytes, this bounds how long
 * a dead entry lingers.
 */
const KEEP_STALE_MS = 24 * 3600_000;
/**
 * Request headers never forwarded under httpCache: what the gateway derives itself (SPEC §7: "never
 * taken from the caller"), besides hop-by-hop (removed by the integration).
 */
export const DERIVED_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded']);

/**
 * Whether a request field (lower case) is one a proxy derives: the set above and the whole
 * `X-Forwarded-*` family (Port, Prefix, Scheme, Server, Ssl, Uri … which Spring, Symfony and Rails
 * read behind a trusted proxy to build absolute links and redirects), also spelled with `_` (WSGI
 * and CGI servers map `X_Forwarded_Host` to the same variable as `X-Forwarded-Host`).
 */
function isDerived(name: string): boolean {
  if (DERIVED_REQUEST_HEADERS.has(name)) return true;
  const dashed = cgiSpelling(name);
  return dashed.startsWith('x-forwarded-') || DERIVED_REQUEST_HEADERS.has(dashed);
}

/** A lower-case field name as CGI/WSGI servers read it: `_` and `-` are one (`X_Forwarded_Host`). */
function cgiSpelling(name: string): string {
  return name.includes('_') ? name.replace(/_/g, '-') : name;
}
/** Response headers a hit recomputes or must not replay. */
const NOT_STORED_HEADERS: ReadonlySet<string> = new Set(['content-length', 'age', 'cache-status', 'connection', 'keep-alive', 'transfer-encoding', 'set-cookie']);

export interface HttpPolicyDeps {
  store: CacheStore;
  caches: Readonly<Record<string, HttpCacheConfig>>;
  now: () => number;
}

interface HttpPlan {
  readonly name: string;
  readonly config: HttpCacheConfig;
  readonly rules: HttpCacheRules;
}

interface HttpRequest extends CacheRequest {
  readonly plan: HttpPlan;
  /** An unsafe method: forwarded as it is; its success invalidates (RFC 9111 §4.4). */
  readonly invalidates: boolean;
  readonly origin: string;
}

/**
 * What the integration receives: every request line but the derived ones, as sent (hop-by-hop
 * fields are dropped by the integration), and the whole query. Vary matching (variants.ts) reads
 * these same raw lines, so what was matched is what is sent.
 */
function endToEnd(rawHeaders: readonly string[], connection: string | undefined, query: string): ForwardedInputs {
  // No prototype: a request header named __proto__ stays an ordinary key.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw: string[] = [];
  // Hop-by-hop fields, and those the caller's Connection lists (RFC 9110 §7.6.1), never reach the
  // backend: dropped here, so that Vary matching (which reads these lines) sees them absent too. A
  // caller could otherwise send `Accept: application/json` + `Connection: Accept` and have the
  // backend's answer for "no Accept" filed as the JSON variant.
  const hopByHop = hopByHopNames(connection);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (isDerived(name) || hopByHop.has(name)) continue;
    raw.push(rawHeaders[i]!, rawHeaders[i + 1]!);
    headers[name] = headers[name] === undefined ? rawHeaders[i + 1]! : `${headers[name]}, ${rawHeaders[i + 1]!}`;
  }
  return { headers, rawHeaders: raw, query };
}

/**
 * The request lines as the backend receives them, for Vary matching: the forwarded lines plus what
 * the HTTP proxy integration derives for every call (http-proxy.ts: `X-Forwarded-For` is the
 * caller's address, `X-Forwarded-Proto` is `http`). A response that varies on X-Forwarded-For is
 * then one variant per caller address, never the answer made for another caller's address.
 */
function backendView(forwardedRaw: readonly string[], sourceIp: string): readonly string[] {
  return [...forwardedRaw, 'x-forwarded-for', sourceIp, 'x-forwarded-proto', 'http'];
}

/** Whether the request sends a field named by `names` (varyNames) on several lines, or spelled with `_` for `-`. */
function ambiguousSelection(rawHeaders: readonly string[], names: string): boolean {
  if (names === '' || names === '*') return false;
  const varied = names.split(',');
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase();
    const dashed = cgiSpelling(lower);
    if (!varied.includes(dashed)) continue;
    if (dashed !== lower || seen.has(dashed)) return true;
    seen.add(dashed);
  }
  return false;
}

const PERMISSIONS = Symbol('stalePermissions');
type WithPermissions = CacheEntry & { [PERMISSIONS]?: StalePermissions };

export class HttpCachePolicy implements CachePolicy {
  private readonly plans = new WeakMap<MethodRoute, HttpPlan>();
  private readonly spaces = new Map<string, Set<string>>();

  constructor(private readonly deps: HttpPolicyDeps) {}

  begin(ctx: RequestContext): CacheRequest | undefined {
    const method = ctx.method as string;
    const invalidates = !SAFE_METHODS.has(method);
    // OPTIONS and TRACE are safe but not cacheable here: forwarded untouched.
    if (!invalidates && method !== 'GET' && method !== 'HEAD') return undefined;
    const plan = this.planFor(ctx.route);
    const host = (ctx.req.headers.host ?? '').toLowerCase();
    const target = requestTarget(ctx);
    const key = urlKey(host, target);
    ctx.cacheKey = key;
    const forwarded = endToEnd(ctx.req.rawHeaders, ctx.req.headers.connection, ctx.rawQuery);
    const request: HttpRequest = {
      ctx, policy: this, plan, key, invalidates,
      origin: `http://${host || 'localhost'}`,
      keyMethod: (invalidates ? method : 'GET') as HttpMethod,
      space: this.space(ctx, plan),
      store: new VariantStore(this.deps.store, backendView(forwarded.rawHeaders, ctx.req.socket.remoteAddress ?? ''), this.deps.now),
      forwarded,
      forwardsBody: invalidates,
      body: undefined,
      // An unsafe request never reads the cache: it goes forward, alone (no coalescing).
      refresh: invalidates,
      passThrough: invalidates,
      ownAnswer: !invalidates && ownAnswer(ctx.req.headers, ctx.req.rawHeaders),
      onlyIfCached: !invalidates && requestDirectives(ctx.req.headers).onlyIfCached,
      windows: ENTRY_WINDOWS,
      extraHeaders: NONE,
      hitHeaders: NONE,
    };
    return request;
  }

  usability(request: CacheRequest, entry: CacheEntry, now: number): Freshness {
    return usability(entry, permissionsOf(entry, (request as HttpRequest).plan.rules), request.ctx.req.headers, now);
  }

  /** A coalesced answer is shared only with waiters whose Vary-named headers match its fetcher's (variants.ts). */
  shares(request: CacheRequest, entry: CacheEntry): boolean {
    return (request.store as VariantStore).selects(entry);
  }

  range(request: CacheRequest, entry: CacheEntry): ByteRange | undefined {
    const { headers } = request.ctx.req;
    return requestedRange(entry, headers.range, headers['if-range'] as string | undefined);
  }

  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission {
    const { plan, invalidates } = request as HttpRequest;
    if (invalidates) {
      this.invalidate(request as HttpRequest, response);
      return { store: false, reason: 'method' };
    }
    const read = responseDirectives(response.headers, plan.rules);
    const lifetime = freshnessLifetime(response, read, plan.rules, now);
    const verdict = storability({ method: request.keyMethod, headers: request.ctx.req.headers }, response, read, lifetime);
    if (!verdict.store) return verdict;
    // A Vary-named field sent on several lines, or spelled with `_` (`Accept_Language`): backends read
    // those differently (Node keeps the first User-Agent line, Lambda's `headers` the last of any
    // field; CGI/WSGI read `_` as `-`), so no normalisation matches what every backend saw. The
    // answer is this caller's only, and says nothing about the key (no hit-for-pass mark).
    if (ambiguousSelection(request.ctx.req.rawHeaders, varyNames(response.headers.vary))) {
      (request as { ownAnswer?: boolean }).ownAnswer = true;
      return { store: false, reason: 'vary' };
    }
    // A cookie is one caller's: such answers are not shared unless the backend says `public`, and even
    // then the Set-Cookie itself is never stored (deliberate; RFC 9111 §7.3 leaves it to the cache).
    if (response.headers['set-cookie'] !== undefined && !read.directives.has('public')) return { store: false, reason: 'set-cookie' };
    // §4.2.3: the entry's age starts at its corrected initial age; storedAt is moved back by it.
    const age = correctedInitialAge(response.headers, request.ctx.receivedAt, now);
    const storedAt = now - Math.round(age * 1000);
    const staleAt = storedAt + lifetime * 1000;
    const permissions = stalePermissions(read);
    // Kept past freshness for revalidation (§4.3) and for requests that accept stale answers
    // (max-stale, stale-if-error); usability() decides each use, the LRU budget bounds the bytes.
    const keepStale = Math.max(permissions.staleWhileRevalidate, permissions.staleIfError) * 1000;
    const deleteAt = Math.max(staleAt + keepStale, now + KEEP_STALE_MS);
    const headers = storedHeaders(response.headers, read.directives);
    // Waiters share this answer only if it is the variant they select, stored or not (variants.ts).
    (request.store as VariantStore).claim(headers);
    return { store: true, headers, times: { storedAt, staleAt, deleteAt } };
  }

  /** RFC 9111 §4.4: a non-error answer to an unsafe method invalidates the URL and same-origin Location / Content-Location. */
  private invalidate(request: HttpRequest, response: IntegrationResponse): void {
    const { ctx } = request;
    const path = requestTarget(ctx);
    const host = (ctx.req.headers.host ?? '').toLowerCase();
    let targets: string[];
    try {
      targets = invalidatedTargets(response.statusCode, response.headers, new URL(path, request.origin), this.backendUrl(ctx), path);
    } catch {
      // A Host that is no URL authority (`a b`, `x:y:z`): the caller still gets the backend's answer
      // (its side effect happened), and its own URL is invalidated; no reference can be same-origin.
      targets = response.statusCode >= 200 && response.statusCode < 400 ? [path] : [];
    }
    // A store failure leaves the entry to expire; the answer still goes out (STYLE.md practice 6).
    for (const target of targets) deleteBestEffort(this.deps.store, request.space, urlKey(host, target));
  }

  /** The URL an HTTP_PROXY integration was called with, to read the backend's Location against. */
  private backendUrl(ctx: RequestContext): URL | undefined {
    const { integration } = ctx.route.definition;
    if (integration?.type !== 'HTTP_PROXY') return undefined;
    try {
      const target = new TargetUriTemplate(integration.uri).resolve(ctx.integrationRequest());
      return new URL(target.path, target.origin);
    } catch {
      return undefined;
    }
  }

  /** Every space of a stage (for a stage flush). */
  spacesOf(apiId: string, stage: string): readonly string[] {
    return [...(this.spaces.get(stageId(apiId, stage)) ?? [])];
  }

  private space(ctx: RequestContext, plan: HttpPlan): string {
    const stage = stageId(ctx.route.api.id, ctx.stage.name);
    const space = `${stage}\u0000http\u0000${plan.name}`;
    let known = this.spaces.get(stage);
    if (!known) this.spaces.set(stage, (known = new Set()));
    if (!known.has(space)) {
      known.add(space);
      void this.deps.store.configureStage(space, plan.config.capacityBytes);
    }
    return space;
  }

  private planFor(route: MethodRoute): HttpPlan {
    let plan = this.plans.get(route);
    if (!plan) {
      const name = route.definition.httpCache!;
      const config = this.deps.caches[name]!;
      plan = { name, config, rules: { heuristicFraction: config.heuristicFraction, maxTtl: config.maxTtl, targeted: config.targeted.map((field) => field.toLowerCase()) } };
      this.plans.set(route, plan);
    }
    return plan;
  }
}

/**
 * Request fields forwarded end to end that can make the answer this caller's alone (206, 304,
 * §3.5, §5.2.1.5): such a request must not lead its URL's flight (coalescing.ts), or any caller
 * could hold a URL's misses behind an answer that cannot be shared and mark it hit-for-pass.
 */
function ownAnswer(headers: RequestContext['req']['headers'], rawHeaders: readonly string[]): boolean {
  if (headers.range !== undefined || headers.authorization !== undefined
    || headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined
    || headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined
    || (headers['cache-control'] !== undefined && parseCacheControl(headers['cache-control']).has('no-store'))) return true;
  // The same fields spelled with `_` (`If_None_Match`): CGI/WSGI servers read them as the `-`
  // spelling (as isDerived), so the backend's 304/412/206 to them is this caller's alone too.
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!name.includes('_')) continue;
    const dashed = cgiSpelling(name.toLowerCase());
    if (OWN_ANSWER_FIELDS.has(dashed)) return true;
    if (dashed === 'cache-control' && parseCacheControl(rawHeaders[i + 1]!).has('no-store')) return true;
  }
  return false;
}
const OWN_ANSWER_FIELDS: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']);

/** The request target the key names: stage, canonical path and the whole query. */
function requestTarget(ctx: RequestContext): string {
  return `/${ctx.stage.name}${ctx.path}${ctx.rawQuery === '' ? '' : `?${ctx.rawQuery}`}`;
}

/** The key: method class (GET/HEAD), host and request target (path and whole query), length-prefixed. */
function urlKey(host: string, target: string): string {
  return `http|${host.length}:${host}|${target}`;
}

/** The stale permissions of an entry's stored directives, read once per entry. */
function permissionsOf(entry: WithPermissions, rules: HttpCacheRules): StalePermissions {
  let permissions = entry[PERMISSIONS];
  if (permissions === undefined) {
    const headers: Record<string, string[]> = {};
    for (const [name, value] of entry.headers) (headers[name] ??= []).push(value);
    permissions = stalePermissions(responseDirectives(headers, rules));
    Object.defineProperty(entry, PERMISSIONS, { value: permissions, enumerable: false });
  }
  return permissions;
}

/**
 * The headers an entry keeps: all but those a hit recomputes, and (RFC 9111 §5.2.2.4, §5.2.2.7)
 * the fields a `no-cache="…"` or `private="…"` names. The backend's Date is kept (§4.2.3 needs it;
 * a hit does not invent a new one).
 */
function storedHeaders(headers: IntegrationResponse['headers'], directives: ReturnType<typeof parseCacheControl>): [string, string][] {
  const withheld = new Set([...directives.fieldNames('no-cache'), ...directives.fieldNames('private')]);
  const kept: [string, string][] = [];
  for (const name in headers) {
    if (NOT_STORED_HEADERS.has(name) || withheld.has(name)) continue;
    const value = headers[name]!;
    if (Array.isArray(value)) for (const item of value) kept.push([name, item]);
    else kept.push([name, value]);
  }
  return kept;
}
