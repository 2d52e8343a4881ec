/**
 * The stage cache with Amazon API Gateway semantics (SPEC §5), as the data plane's cache step:
 * key → client Cache-Control (authorised or not) → lookup → hit, or integration → store.
 * Keying, policy and storage live in their own modules; this file only sequences them.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpMethod } from '../config/schema.js';
import type { IdentityRegistry } from '../control/auth/identities.js';
import { executeApiArn } from '../control/auth/policy.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../gateway/context.js';
import { writeIntegrationResponse, type CacheStep } from '../gateway/data-plane.js';
import type { MethodRoute, StageRuntime } from '../gateway/runtime.js';
import type { IntegrationResponse } from '../integrations/integration.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { collectUpTo, readRequestBody } from './body.js';
import { EncryptedStore } from './crypto.js';
import { CACHE_ENTRY_VERSION, type CacheEntry } from './entry.js';
import { filterHeaders, keyedHeaderFilter, type HeaderFilter } from './forwarded-headers.js';
import { buildCacheKey, compileKeyPlan, type KeyPlan } from './key.js';
import { clientCacheControl, entryTimes, MAX_CACHEABLE_BODY_BYTES, resolveMethodSettings, storability, type ResolvedMethodSettings } from './policy-aws.js';
import { cacheStatus, type ForwardReason } from './status.js';
import { stageId, type CacheStore } from './store.js';

/** Largest request body read to key on it or to verify a SigV4 payload hash. */
const MAX_KEYED_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
const UNAUTHORIZED_WARNING = '199 - "Cache-control headers were ignored because the caller was unauthorized"';

export interface AwsCacheStepDeps {
  store: CacheStore;
  metrics: GatewayMetrics;
  identities: IdentityRegistry;
  logger: Logger;
  now: () => number;
  region: string;
  accountId: string;
  /** `store.encryptionKey`, decoded; needed when any method has cacheDataEncrypted. */
  encryptionKey: Buffer | undefined;
  /** `store.type`, the `store` label of cachegate_store_errors_total. */
  storeType?: string;
}

/** One request's way through the cache. */
interface Lookup {
  readonly ctx: RequestContext;
  readonly keyMethod: HttpMethod;
  readonly settings: ResolvedMethodSettings;
  readonly plan: MethodPlan;
  readonly forwardsBody: boolean;
  readonly space: string;
  readonly store: CacheStore;
  key: string;
  /** The request body, when it was read to key on it. */
  body: Buffer | undefined;
  /** SUCCEED_WITH_RESPONSE_HEADER: the caller's Cache-Control was ignored; say so. */
  warning: boolean;
}

/** What is computed once per method, not per request. */
interface MethodPlan {
  readonly key: KeyPlan;
  readonly headers: HeaderFilter;
  readonly bodyInKey: boolean;
}

export class AwsCacheStep implements CacheStep {
  private readonly sealedStore: EncryptedStore | undefined;
  private readonly plans = new WeakMap<MethodRoute, MethodPlan>();
  private readonly settings = new WeakMap<MethodRoute, Map<StageRuntime, Map<HttpMethod, ResolvedMethodSettings>>>();

  constructor(private readonly deps: AwsCacheStepDeps) {
    this.sealedStore = deps.encryptionKey ? new EncryptedStore(deps.store, deps.encryptionKey) : undefined;
  }

  serve(ctx: RequestContext): Promise<boolean> | boolean {
    // Methods with an Alibaba caching plug-in follow that policy instead (SPEC §6).
    if (ctx.route.definition.cachePlugin !== undefined) return false;
    // HEAD is answered from (and fills) the GET entry.
    const keyMethod: HttpMethod = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    const settings = this.settingsFor(ctx.stage, ctx.route, keyMethod);
    if (!settings.cachingEnabled) return false;
    const plan = this.planFor(ctx.route, keyMethod);
    // GET bodies are never forwarded nor keyed (a "fat GET" cannot poison an entry).
    const forwardsBody = keyMethod !== 'GET' && ctx.hasBody;
    const lookup: Lookup = {
      ctx, keyMethod, settings, plan, forwardsBody, key: '', body: undefined, warning: false,
      space: stageId(ctx.route.api.id, ctx.stage.name),
      store: settings.cacheDataEncrypted ? this.sealedStore! : this.deps.store,
    };
    // The common case stays synchronous: no body to read, no Cache-Control to authorise.
    if (!(forwardsBody && plan.bodyInKey) && clientCacheControl(ctx.req.headers) === 'none') {
      this.setKey(lookup);
      const served = this.lookUp(lookup);
      return served === true ? true : served.then(() => true);
    }
    return this.prepare(lookup).then(() => true);
  }

  /** The slower start: read a keyed body, and decide whether the caller may invalidate. */
  private async prepare(lookup: Lookup): Promise<void> {
    const { ctx, settings } = lookup;
    if (lookup.forwardsBody && lookup.plan.bodyInKey) lookup.body = await readRequestBody(ctx.req, MAX_KEYED_REQUEST_BODY_BYTES);
    this.setKey(lookup);
    if (clientCacheControl(ctx.req.headers) === 'invalidate') {
      if (await this.mayInvalidate(ctx, settings, lookup.body)) {
        this.deps.metrics.invalidations.inc({ api: ctx.labels.api, stage: ctx.labels.stage, reason: 'client' });
        return this.fetchAndStore(lookup, 'request');
      }
      if (settings.unauthorizedCacheControlHeaderStrategy === 'FAIL_WITH_403') throw new GatewayError('CACHE_CONTROL_FORBIDDEN');
      lookup.warning = settings.unauthorizedCacheControlHeaderStrategy === 'SUCCEED_WITH_RESPONSE_HEADER';
    }
    const served = this.lookUp(lookup);
    if (served !== true) await served;
  }

  private setKey(lookup: Lookup): void {
    const { ctx } = lookup;
    lookup.key = buildCacheKey(lookup.plan.key, { method: lookup.keyMethod, pathParameters: ctx.pathParameters, rawQuery: ctx.rawQuery, headers: ctx.req.headers, body: lookup.body });
    if (this.deps.logger.isLevelEnabled('info')) ctx.cacheKeyHash = createHash('sha256').update(lookup.key).digest('hex').slice(0, 16);
  }

  /** Serves a fresh entry (true, synchronously when the store is), else goes to the integration. */
  private lookUp(lookup: Lookup): true | Promise<void> {
    let found: ReturnType<CacheStore['get']>;
    try {
      found = lookup.store.get(lookup.space, lookup.key);
    } catch (error) {
      return this.fetchAndStore(lookup, this.storeError('get', error));
    }
    if (!(found instanceof Promise)) return this.serveEntry(lookup, found) ? true : this.fetchAndStore(lookup, 'uri-miss');
    return found.then(
      (entry) => (this.serveEntry(lookup, entry) ? undefined : this.fetchAndStore(lookup, 'uri-miss')),
      (error: unknown) => this.fetchAndStore(lookup, this.storeError('get', error)),
    );
  }

  /** Writes a fresh, readable entry; false when there is none. */
  private serveEntry(lookup: Lookup, entry: CacheEntry | undefined): boolean {
    // An entry of another format, or a sealed entry read without its key, is a miss.
    if (!entry || entry.version !== CACHE_ENTRY_VERSION || (lookup.store === this.deps.store && entry.sealed !== undefined)) return false;
    const now = this.deps.now();
    if (now >= entry.staleAt) return false;
    const { ctx } = lookup;
    ctx.cacheOutcome = 'hit';
    ctx.metrics.hits.inc();
    writeHit(ctx, entry, now, lookup.warning);
    return true;
  }

  /** The integration's answer, stored when the policy allows and written to the caller. */
  private async fetchAndStore(lookup: Lookup, fwd: ForwardReason): Promise<void> {
    const { ctx, settings, plan, store } = lookup;
    const { req, res } = ctx;
    ctx.cacheOutcome = fwd === 'request' ? 'refresh' : fwd === 'bypass' ? 'bypass' : 'miss';
    ctx.metrics.misses.inc();
    const forwarded = filterHeaders(plan.headers, req.headers, req.rawHeaders);
    const response = await ctx.invoke(ctx.integrationRequest({
      method: lookup.keyMethod,
      headers: forwarded.headers,
      rawHeaders: forwarded.rawHeaders,
      body: lookup.forwardsBody ? lookup.body ?? req : null,
    }));
    const headOnly = ctx.method === 'HEAD';
    const extra: Record<string, string> = { 'x-amzn-requestid': ctx.requestId };
    if (lookup.warning) extra.warning = UNAUTHORIZED_WARNING;

    const verdict = fwd === 'bypass' ? { store: false as const, reason: 'store-unavailable' } : storability(response, settings);
    if (!verdict.store) {
      extra['cache-status'] = cacheStatus({ fwd, detail: verdict.reason });
      return writeIntegrationResponse(res, response, headOnly, extra);
    }
    const collected = Buffer.isBuffer(response.body) ? { complete: true as const, body: response.body } : await collectUpTo(response.body, MAX_CACHEABLE_BODY_BYTES);
    if (!collected.complete || collected.body.length > MAX_CACHEABLE_BODY_BYTES) {
      // AWS: a response over 1 MB is returned but not cached.
      extra['cache-status'] = cacheStatus({ fwd, detail: 'too-large' });
      return writeIntegrationResponse(res, response, headOnly, extra, collected.complete ? [collected.body] : collected.prefix);
    }

    const entry: CacheEntry = {
      version: CACHE_ENTRY_VERSION,
      statusCode: response.statusCode,
      headers: replayableHeaders(response.headers),
      body: collected.body,
      ...entryTimes(this.deps.now(), settings),
    };
    try {
      const stored = store.set(lookup.space, lookup.key, entry);
      if (stored instanceof Promise) await stored;
      extra['cache-status'] = cacheStatus({ fwd, stored: true });
    } catch (error) {
      this.storeError('set', error);
      extra['cache-status'] = cacheStatus({ fwd, detail: 'store-unavailable' });
    }
    writeEntry(res, entry, headOnly, extra);
  }

  /**
   * AWS: a client may invalidate its entry when requireAuthorizationForCacheControl is off, or
   * when it is an identity allowed execute-api:InvalidateCache on the method's ARN.
   */
  private async mayInvalidate(ctx: RequestContext, settings: ResolvedMethodSettings, body: Buffer | undefined): Promise<boolean> {
    if (!settings.requireAuthorizationForCacheControl) return true;
    const { req } = ctx;
    const payload = body ?? (ctx.method === 'GET' || ctx.method === 'HEAD' || !ctx.hasBody ? Buffer.alloc(0) : undefined);
    const auth = await this.deps.identities.authenticate({ method: req.method!, rawUrl: req.url!, rawHeaders: req.rawHeaders, body: payload }, 'execute-api', Date.now());
    if (auth.kind !== 'identity') return false;
    const arn = executeApiArn(this.deps.region, this.deps.accountId, ctx.route.api.id, ctx.stage.name, ctx.method, ctx.path.slice(1));
    return auth.identity.policy.allows('execute-api:InvalidateCache', arn);
  }

  /** Counts and logs a store failure; the request is then served from the integration. */
  private storeError(operation: string, error: unknown): 'bypass' {
    this.deps.metrics.storeErrors.inc({ store: this.deps.storeType ?? 'memory', operation });
    // Debug only: the store logs once per outage, not once per request.
    this.deps.logger.debug({ operation, err: (error as Error)?.message }, 'cache store failed; serving from the integration');
    return 'bypass';
  }

  private settingsFor(stage: StageRuntime, route: MethodRoute, method: HttpMethod): ResolvedMethodSettings {
    let byStage = this.settings.get(route);
    if (!byStage) this.settings.set(route, (byStage = new Map()));
    let byMethod = byStage.get(stage);
    if (!byMethod) byStage.set(stage, (byMethod = new Map()));
    let settings = byMethod.get(method);
    if (!settings) byMethod.set(method, (settings = resolveMethodSettings(stage.config, route.resourcePath, method)));
    return settings;
  }

  private planFor(route: MethodRoute, keyMethod: HttpMethod): MethodPlan {
    let plan = this.plans.get(route);
    if (!plan) {
      const { cacheKeyParameters, cacheNamespace, integration } = route.definition;
      const bodyInKey = cacheKeyParameters.some((parameter) => parameter.startsWith('method.request.body'));
      plan = {
        key: compileKeyPlan(keyMethod, route.resourcePath, cacheKeyParameters, cacheNamespace ?? integration.cacheNamespace),
        headers: keyedHeaderFilter(cacheKeyParameters, keyMethod !== 'GET'),
        bodyInKey,
      };
      this.plans.set(route, plan);
    }
    return plan;
  }
}

/** Headers stored with an entry: all but the ones the hit recomputes (length, date) or must not replay. */
function replayableHeaders(headers: IntegrationResponse['headers']): [string, string][] {
  const kept: [string, string][] = [];
  for (const name in headers) {
    if (name === 'content-length' || name === 'date' || name === 'age' || name === 'cache-status' || name === 'set-cookie') continue;
    const value = headers[name]!;
    if (Array.isArray(value)) for (const item of value) kept.push([name, item]);
    else kept.push([name, value]);
  }
  const cookies = headers['set-cookie'];
  if (cookies) for (const cookie of Array.isArray(cookies) ? cookies : [cookies]) kept.push(['set-cookie', cookie]);
  return kept;
}

/** Stored headers of an entry as a flat [name, value, …] list with its Content-Length, built once per entry. */
const replayHeaders = new WeakMap<CacheEntry, readonly string[]>();

function flatHeaders(entry: CacheEntry): readonly string[] {
  let flat = replayHeaders.get(entry);
  if (!flat) {
    const list: string[] = [];
    for (const [name, value] of entry.headers) list.push(name, value);
    list.push('content-length', String(entry.body.length));
    replayHeaders.set(entry, (flat = list));
  }
  return flat;
}

/** A hit: one writeHead with every header (no per-header setHeader calls), then the stored bytes as they are. */
function writeHit(ctx: RequestContext, entry: CacheEntry, now: number, warning: boolean): void {
  const headers = [
    ...flatHeaders(entry),
    'age', String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
    'cache-status', cacheStatus({ hit: true, ttl: Math.ceil((entry.staleAt - now) / 1000) }),
    'x-amzn-requestid', ctx.requestId,
  ];
  if (warning) headers.push('warning', UNAUTHORIZED_WARNING);
  ctx.res.writeHead(entry.statusCode, headers);
  ctx.res.end(ctx.method === 'HEAD' ? undefined : entry.body);
}

function writeEntry(res: ServerResponse, entry: CacheEntry, headOnly: boolean, extra: Record<string, string>): void {
  res.writeHead(entry.statusCode, [...flatHeaders(entry), ...Object.entries(extra).flat()]);
  res.end(headOnly ? undefined : entry.body);
}
