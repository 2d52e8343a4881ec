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
import { cacheStatus } from './status.js';
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
  private readonly settings = new WeakMap<StageRuntime, Map<string, ResolvedMethodSettings>>();

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
    return this.serveThroughCache(ctx, keyMethod, settings).then(() => true);
  }

  private async serveThroughCache(ctx: RequestContext, keyMethod: HttpMethod, settings: ResolvedMethodSettings): Promise<void> {
    const { req, res } = ctx;
    const { metrics, now } = this.deps;
    const plan = this.planFor(ctx.route, keyMethod);
    // GET bodies are never forwarded nor keyed (a "fat GET" cannot poison an entry).
    const forwardsBody = keyMethod !== 'GET' && ctx.hasBody;
    const body = forwardsBody && plan.bodyInKey ? await readRequestBody(req, MAX_KEYED_REQUEST_BODY_BYTES) : undefined;
    const key = buildCacheKey(plan.key, { method: keyMethod, pathParameters: ctx.pathParameters, rawQuery: ctx.rawQuery, headers: req.headers, body });
    if (this.deps.logger.isLevelEnabled('info')) ctx.cacheKeyHash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    const space = stageId(ctx.route.api.id, ctx.stage.name);
    const store = settings.cacheDataEncrypted ? this.sealedStore! : this.deps.store;

    let invalidate = false;
    let warning = false;
    if (clientCacheControl(req.headers) === 'invalidate') {
      if (await this.mayInvalidate(ctx, settings, body)) invalidate = true;
      else if (settings.unauthorizedCacheControlHeaderStrategy === 'FAIL_WITH_403') throw new GatewayError('CACHE_CONTROL_FORBIDDEN');
      else warning = settings.unauthorizedCacheControlHeaderStrategy === 'SUCCEED_WITH_RESPONSE_HEADER';
    }

    let storeFailed = false;
    if (!invalidate) {
      let entry: CacheEntry | undefined;
      try {
        const found = store.get(space, key);
        entry = found instanceof Promise ? await found : found;
      } catch (error) {
        storeFailed = this.storeError('get', error);
      }
      // An entry of another format, or a sealed entry read without its key, is a miss.
      const readable = entry?.version === CACHE_ENTRY_VERSION && (store !== this.deps.store || entry.sealed === undefined);
      if (entry && readable && now() < entry.staleAt) {
        ctx.cacheOutcome = 'hit';
        metrics.cacheHits.inc(ctx.labels);
        writeHit(res, entry, now(), ctx.method === 'HEAD', warning);
        return;
      }
    } else {
      metrics.invalidations.inc({ api: ctx.labels.api, stage: ctx.labels.stage, reason: 'client' });
    }

    ctx.cacheOutcome = invalidate ? 'refresh' : storeFailed ? 'bypass' : 'miss';
    metrics.cacheMisses.inc(ctx.labels);
    const forwarded = filterHeaders(plan.headers, req.headers, req.rawHeaders);
    const response = await ctx.invoke(ctx.integrationRequest({
      method: keyMethod,
      headers: forwarded.headers,
      rawHeaders: forwarded.rawHeaders,
      body: forwardsBody ? body ?? req : null,
    }));
    const fwd = invalidate ? 'request' : storeFailed ? 'bypass' : 'uri-miss';
    const extra: Record<string, string> = {};
    if (warning) extra.warning = UNAUTHORIZED_WARNING;

    const verdict = storeFailed ? { store: false as const, reason: 'store-unavailable' } : storability(response, settings, plan.headers.names);
    if (!verdict.store) {
      extra['cache-status'] = cacheStatus({ fwd, detail: verdict.reason });
      return writeIntegrationResponse(res, response, ctx.method === 'HEAD', extra);
    }
    const collected = Buffer.isBuffer(response.body) ? { complete: true as const, body: response.body } : await collectUpTo(response.body, MAX_CACHEABLE_BODY_BYTES);
    if (!collected.complete || collected.body.length > MAX_CACHEABLE_BODY_BYTES) {
      // AWS: a response over 1 MB is returned but not cached.
      extra['cache-status'] = cacheStatus({ fwd, detail: 'too-large' });
      return writeIntegrationResponse(res, response, ctx.method === 'HEAD', extra, collected.complete ? [collected.body] : collected.prefix);
    }

    const storedAt = now();
    const entry: CacheEntry = {
      version: CACHE_ENTRY_VERSION,
      statusCode: response.statusCode,
      headers: replayableHeaders(response.headers),
      body: collected.body,
      ...entryTimes(storedAt, settings),
    };
    try {
      const stored = store.set(space, key, entry);
      if (stored instanceof Promise) await stored;
      extra['cache-status'] = cacheStatus({ fwd, stored: true });
    } catch (error) {
      this.storeError('set', error);
      extra['cache-status'] = cacheStatus({ fwd, detail: 'store-unavailable' });
    }
    writeEntry(res, entry, ctx.method === 'HEAD', extra);
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
  private storeError(operation: string, error: unknown): true {
    this.deps.metrics.storeErrors.inc({ store: 'memory', operation });
    this.deps.logger.warn({ operation, err: (error as Error)?.message }, 'cache store failed; serving from the integration');
    return true;
  }

  private settingsFor(stage: StageRuntime, route: MethodRoute, method: HttpMethod): ResolvedMethodSettings {
    let byRoute = this.settings.get(stage);
    if (!byRoute) this.settings.set(stage, (byRoute = new Map()));
    const id = `${route.resourcePath} ${method}`;
    let settings = byRoute.get(id);
    if (!settings) byRoute.set(id, (settings = resolveMethodSettings(stage.config, route.resourcePath, method)));
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

function writeHit(res: ServerResponse, entry: CacheEntry, now: number, headOnly: boolean, warning: boolean): void {
  const age = Math.max(0, Math.floor((now - entry.storedAt) / 1000));
  res.setHeader('age', age);
  res.setHeader('cache-status', cacheStatus({ hit: true, ttl: Math.ceil((entry.staleAt - now) / 1000) }));
  if (warning) res.setHeader('warning', UNAUTHORIZED_WARNING);
  writeEntry(res, entry, headOnly);
}

function writeEntry(res: ServerResponse, entry: CacheEntry, headOnly: boolean, extra?: Record<string, string>): void {
  res.statusCode = entry.statusCode;
  for (const [name, value] of entry.headers) res.appendHeader(name, value);
  if (extra) for (const name in extra) res.setHeader(name, extra[name]!);
  res.setHeader('content-length', entry.body.length);
  res.end(headOnly ? undefined : entry.body);
}
