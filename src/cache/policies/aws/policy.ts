/**
 * Amazon API Gateway's stage cache (SPEC §5) as a cache policy: method settings decide whether a
 * request is cached and for how long; the key comes from cacheKeyParameters; a client's
 * `Cache-Control: max-age=0` refreshes only when authorised (or authorisation is not required).
 */
import type { HttpMethod } from '../../../config/schema.js';
import type { IdentityRegistry } from '../../../auth/identities.js';
import { executeApiArn } from '../../../auth/policy.js';
import { GatewayError } from '../../../errors.js';
import type { RequestContext } from '../../../gateway/context.js';
import type { MethodRoute, StageRuntime } from '../../../gateway/runtime.js';
import type { IntegrationResponse } from '../../../integrations/integration.js';
import { readRequestBody } from '../../body.js';
import type { Admission, CachePolicy, CacheRequest } from '../../cache-policy.js';
import { EncryptedStore } from '../../crypto.js';
import { replayableHeaders } from '../../entry-writer.js';
import { BODY_FRAMING_HEADERS } from '../../forwarded-headers.js';
import { compileKeyPlan, keyRequest, type KeyPlan, type UnkeyedQuery } from '../../key.js';
import { MAX_KEYED_BODY_BYTES_BEFORE_AUTH } from '../../limits.js';
import { headerValues } from '../../../auth/sigv4.js';
import { pathParameterNames } from '../../../config/naming.js';
import { canonicalSegment } from '../../../gateway/router.js';
import { clientCacheControl, entryTimes, resolveMethodSettings, storability, type ResolvedMethodSettings } from './rules.js';
import { stageId, type CacheStore } from '../../store.js';

/** Largest request body read to key on it or to verify a SigV4 payload hash, for an authenticated caller. */
const MAX_KEYED_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
const UNAUTHORIZED_WARNING = ['warning', '199 - "Cache-control headers were ignored because the caller was unauthorized"'];
const NONE: readonly string[] = [];

export interface AwsPolicyDeps {
  store: CacheStore;
  identities: IdentityRegistry;
  region: string;
  accountId: string;
  /** `store.encryptionKey`, decoded; needed when any method has cacheDataEncrypted. */
  encryptionKey: Buffer | undefined;
}

/** What is computed once per method, not per request. */
interface MethodPlan {
  readonly key: KeyPlan;
  /** The method's `cacheForwarding`: whether unkeyed query parameters reach the integration. */
  readonly unkeyedQuery: UnkeyedQuery;
  readonly bodyInKey: boolean;
  /** Other resources sharing its cacheNamespace (and so its entries), for InvalidateCache. */
  readonly sharedWith: readonly string[];
}

interface AwsRequest extends CacheRequest {
  readonly settings: ResolvedMethodSettings;
}

export class AwsCachePolicy implements CachePolicy {
  private readonly sealedStore: EncryptedStore | undefined;
  private readonly plans = new WeakMap<MethodRoute, MethodPlan>();
  private readonly settings = new WeakMap<MethodRoute, Map<StageRuntime, Map<HttpMethod, ResolvedMethodSettings>>>();

  constructor(private readonly deps: AwsPolicyDeps) {
    this.sealedStore = deps.encryptionKey ? new EncryptedStore(deps.store, deps.encryptionKey) : undefined;
  }

  begin(ctx: RequestContext): CacheRequest | undefined | Promise<CacheRequest | undefined> {
    // HEAD is answered from (and fills) the GET entry.
    const keyMethod: HttpMethod = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    const settings = this.settingsFor(ctx.stage, ctx.route, keyMethod);
    if (!settings.cachingEnabled) return undefined;
    const plan = this.planFor(ctx.route);
    // GET bodies are never forwarded nor keyed (a "fat GET" cannot poison an entry); with
    // `cacheForwarding: keyed-only` an unkeyed body is not forwarded either (nothing outside the key).
    const forwardsBody = keyMethod !== 'GET' && ctx.hasBody && (plan.bodyInKey || plan.unkeyedQuery !== 'strip');
    const wantsRefresh = clientCacheControl(ctx.req.headers) === 'invalidate';
    // The common case stays synchronous: no body to read, no Cache-Control to authorise.
    if (!(forwardsBody && plan.bodyInKey) && !wantsRefresh) return this.request(ctx, keyMethod, settings, plan, forwardsBody, undefined, false, NONE);
    return this.beginSlowly(ctx, keyMethod, settings, plan, forwardsBody, wantsRefresh);
  }

  private async beginSlowly(ctx: RequestContext, keyMethod: HttpMethod, settings: ResolvedMethodSettings, plan: MethodPlan, forwardsBody: boolean, wantsRefresh: boolean): Promise<CacheRequest> {
    let body: Buffer | undefined;
    if (forwardsBody && plan.bodyInKey) {
      // Who the caller is, from its headers alone (an API key), decides how much body it may make
      // us hold: a SigV4 signature covers the body, so it cannot be checked before reading it.
      const limit = this.identifiedByHeaders(ctx) ? MAX_KEYED_REQUEST_BODY_BYTES : MAX_KEYED_BODY_BYTES_BEFORE_AUTH;
      body = ctx.bufferedBody ?? (await readRequestBody(ctx.req, limit));
    }
    if (!wantsRefresh) return this.request(ctx, keyMethod, settings, plan, forwardsBody, body, false, NONE);
    if (await this.mayInvalidate(ctx, keyMethod, settings, body)) return this.request(ctx, keyMethod, settings, plan, forwardsBody, body, true, NONE);
    // AWS unauthorizedCacheControlHeaderStrategy.
    if (settings.unauthorizedCacheControlHeaderStrategy === 'FAIL_WITH_403') throw new GatewayError('CACHE_CONTROL_FORBIDDEN');
    const extra = settings.unauthorizedCacheControlHeaderStrategy === 'SUCCEED_WITH_RESPONSE_HEADER' ? UNAUTHORIZED_WARNING : NONE;
    return this.request(ctx, keyMethod, settings, plan, forwardsBody, body, false, extra);
  }

  /** True when the request carries no SigV4 proof and exactly one x-api-key naming an identity. */
  private identifiedByHeaders(ctx: RequestContext): boolean {
    const { rawHeaders } = ctx.req;
    if (/^AWS4-HMAC-SHA256\b/i.test(headerValues(rawHeaders, 'authorization')[0] ?? '') || /[?&]X-Amz-Signature=/i.test(ctx.req.url ?? '')) return false;
    const apiKeys = headerValues(rawHeaders, 'x-api-key');
    return apiKeys.length === 1 && this.deps.identities.byApiKey(apiKeys[0]!) !== undefined;
  }

  private request(ctx: RequestContext, keyMethod: HttpMethod, settings: ResolvedMethodSettings, plan: MethodPlan,
    forwardsBody: boolean, body: Buffer | undefined, refresh: boolean, extraHeaders: readonly string[]): AwsRequest {
    // The key and what the integration receives come from one place, so they cannot disagree
    // (SPEC §7); an ambiguous keyed input is refused here with a 400.
    const { key, forwarded } = keyRequest(plan.key, {
      method: keyMethod, pathParameters: ctx.pathParameters, rawQuery: ctx.rawQuery, rawHeaders: ctx.req.rawHeaders, body,
      extraHeaderNames: forwardsBody ? BODY_FRAMING_HEADERS : undefined, unkeyedQuery: plan.unkeyedQuery,
    });
    ctx.cacheKey = key;
    return {
      ctx, policy: this, keyMethod, settings, key, body, refresh, forwardsBody, extraHeaders, forwarded,
      // A body forwarded as it streams in: the call goes at the caller's pace, so others must not wait on it.
      ownAnswer: forwardsBody && body === undefined && ctx.bufferedBody === undefined,
      space: stageId(ctx.route.api.id, ctx.stage.name),
      store: settings.cacheDataEncrypted ? this.sealedStore! : this.deps.store,
      windows: settings,
      hitHeaders: NONE,
    };
  }

  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission {
    const { settings } = request as AwsRequest;
    const verdict = storability(response, settings);
    if (!verdict.store) return verdict;
    return { store: true, headers: replayableHeaders(response.headers), times: entryTimes(now, settings) };
  }

  /**
   * AWS: a client may invalidate its entry when requireAuthorizationForCacheControl is off, or
   * when it is an identity allowed execute-api:InvalidateCache on the method's ARN.
   */
  private async mayInvalidate(ctx: RequestContext, keyMethod: HttpMethod, settings: ResolvedMethodSettings, body: Buffer | undefined): Promise<boolean> {
    if (!settings.requireAuthorizationForCacheControl) return true;
    const { req } = ctx;
    const payload = body ?? (ctx.method === 'GET' || ctx.method === 'HEAD' || !ctx.hasBody ? Buffer.alloc(0) : undefined);
    const auth = await this.deps.identities.authenticate({ method: req.method!, rawUrl: req.url!, rawHeaders: req.rawHeaders, body: payload }, 'execute-api', Date.now());
    if (auth.kind !== 'identity') return false;
    // ctx.path is the canonical path routing used (router.ts), so every spelling of a resource
    // (`/%61dmin/x`, `/admin/x/`) is checked against the one ARN (issue 13 defect 4).
    const arn = (method: HttpMethod) => executeApiArn(this.deps.region, this.deps.accountId, ctx.route.api.id, ctx.stage.name, method, ctx.path.slice(1));
    const { policy } = auth.identity;
    if (!policy.allows('execute-api:InvalidateCache', arn(ctx.method))) return false;
    // A HEAD refreshes the GET entry (SPEC §5: HEAD is answered from it), so a Deny on the GET
    // ARN must hold for a HEAD too: the entry's own method is checked as well.
    if (keyMethod !== ctx.method && !policy.allows('execute-api:InvalidateCache', arn(keyMethod))) return false;
    // Resources sharing this method's cacheNamespace share its entries: refreshing through one
    // replaces what the others serve, so a Deny on any of them holds here too (same path values).
    for (const template of this.planFor(ctx.route).sharedWith) {
      const path = template.split('/').map((segment) => {
        const parameter = /^\{([^}+]+)(\+?)\}$/.exec(segment);
        if (!parameter) return canonicalSegment(segment);
        const value = ctx.pathParameters[parameter[1]!] ?? '';
        return parameter[2] ? value.split('/').map(canonicalSegment).join('/') : canonicalSegment(value);
      }).join('/');
      if (!policy.allows('execute-api:InvalidateCache', executeApiArn(this.deps.region, this.deps.accountId, ctx.route.api.id, ctx.stage.name, keyMethod, path))) return false;
    }
    return true;
  }

  /**
   * The other resources (templates without the leading `/`) whose method for `method` keys into
   * the same namespace with the same path parameters, so their entries are this route's entries.
   */
  private sharingResources(route: MethodRoute, namespace: string): string[] {
    const names = pathParameterNames(route.resourcePath).sort().join('/');
    const shared: string[] = [];
    for (const [resourcePath, methods] of Object.entries(route.api.config.resources ?? {})) {
      if (resourcePath === route.resourcePath || pathParameterNames(resourcePath).sort().join('/') !== names) continue;
      for (const definition of Object.values(methods ?? {})) {
        if (!definition) continue;
        if ((definition.cacheNamespace ?? definition.integration?.cacheNamespace ?? resourcePath) !== namespace) continue;
        shared.push(resourcePath.slice(1));
        break;
      }
    }
    return shared;
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

  private planFor(route: MethodRoute): MethodPlan {
    let plan = this.plans.get(route);
    if (!plan) {
      const { cacheKeyParameters, cacheNamespace, integration } = route.definition;
      plan = {
        key: compileKeyPlan(route.routeMethod, route.resourcePath, cacheKeyParameters, cacheNamespace ?? integration?.cacheNamespace),
        unkeyedQuery: route.definition.cacheForwarding === 'keyed-only' ? 'strip' : 'forward',
        bodyInKey: cacheKeyParameters.some((parameter) => parameter.startsWith('method.request.body')),
        sharedWith: this.sharingResources(route, cacheNamespace ?? integration?.cacheNamespace ?? route.resourcePath),
      };
      this.plans.set(route, plan);
    }
    return plan;
  }
}
