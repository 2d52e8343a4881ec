/**
 * Alibaba Cloud API Gateway's caching plug-in (SPEC §6) as a cache policy: GET only; the key is
 * method, path, the caller's app (varyByApp), varyByParameters and varyByHeaders; the backend's
 * Cache-Control decides the lifetime (else `duration`, at most 48 h); only the body's own headers
 * (Content-Type/Encoding/Language/Length) and cacheableHeaders are kept; each app has its own space per plug-in that never evicts: when full,
 * new responses are simply not stored until entries expire.
 */
import type { CachePluginConfig } from '../../../config/schema.js';
import type { RequestContext } from '../../../gateway/context.js';
import type { MethodRoute } from '../../../gateway/runtime.js';
import type { IntegrationResponse } from '../../../integrations/integration.js';
import type { Admission, CachePolicy, CacheRequest, StaleWindows } from '../../cache-policy.js';
import { entrySize, type CacheEntry } from '../../entry.js';
import { replayableHeaders } from '../../entry-writer.js';
import { compileKeyPlan, keyRequest, type KeyPlan } from '../../key.js';
import { appCallerOf } from './app-gate.js';
import { alibabaLifetime, keptHeaderNames, mayRefresh } from './rules.js';
import { storability, type Freshness } from '../aws/rules.js';
import { stageId, type CacheStore } from '../../store.js';

const HIT_HEADERS = ['x-ca-caching', 'true'];
const NONE: readonly string[] = [];
/**
 * The plug-in serves nothing stale: an entry past its lifetime goes to the backend (conditionally
 * when it has a validator). Serving stale needs the backend's permission (RFC 5861), which a
 * stored entry — keeping only the plug-in's headers — cannot show later; see usability().
 */
const ENTRY_WINDOWS: StaleWindows = { staleWhileRevalidateSeconds: 0, staleIfErrorSeconds: 0 };
/** How often a full space is swept for expired entries. */
const PRUNE_INTERVAL_MS = 1000;
// Alibaba stores 2xx answers like AWS; Set-Cookie answers are not stored (one caller's session).
const STORABLE = { cacheableStatusCodes: new Set(Array.from({ length: 100 }, (_, i) => 200 + i)), cacheResponsesWithSetCookie: false };

export interface AlibabaPolicyDeps {
  store: CacheStore;
  plugins: Readonly<Record<string, CachePluginConfig>>;
  now: () => number;
}

interface PluginPlan {
  readonly name: string;
  readonly plugin: CachePluginConfig;
  readonly key: KeyPlan;
  readonly kept: ReadonlySet<string>;
}

interface AlibabaRequest extends CacheRequest {
  readonly plan: PluginPlan;
}

export class AlibabaCachePolicy implements CachePolicy {
  private readonly plans = new WeakMap<MethodRoute, PluginPlan>();
  /** Spaces created so far, by stage, so a stage flush reaches them. */
  private readonly spaces = new Map<string, Set<string>>();
  private readonly lastPrune = new Map<string, number>();

  constructor(private readonly deps: AlibabaPolicyDeps) {}

  begin(ctx: RequestContext): CacheRequest | undefined {
    // The plug-in caches GET only; HEAD is answered from the GET entry.
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return undefined;
    const plan = this.planFor(ctx.route);
    // The app gate in front of this policy authenticated the caller (app-gate.ts).
    const caller = appCallerOf(ctx);
    const appId = caller.kind === 'app' ? caller.appId : undefined;
    const { plugin } = plan;
    // Key and forwarded inputs from one place (key.ts keyRequest): the backend gets what is keyed.
    const keyed = keyRequest(plan.key, {
      method: 'GET', pathParameters: ctx.pathParameters, rawQuery: ctx.rawQuery, rawHeaders: ctx.req.rawHeaders,
      unkeyedQuery: ctx.route.definition.cacheForwarding === 'keyed-only' ? 'strip' : 'forward',
    });
    let key = keyed.key;
    // varyByApp: an app's entries are never served to another app, nor to anonymous callers.
    if (plugin.varyByApp) key += appId === undefined ? '|a-' : `|a${appId.length}:${appId}`;
    ctx.cacheKey = key;
    const request: AlibabaRequest = {
      ctx, policy: this, plan, key,
      keyMethod: 'GET',
      space: this.space(ctx, plan, plugin.varyByApp ? appId : undefined),
      store: this.deps.store,
      forwarded: keyed.forwarded,
      forwardsBody: false,
      body: undefined,
      refresh: mayRefresh(plugin, ctx.req.headers, appId),
      windows: ENTRY_WINDOWS,
      // Alibaba answers every request with its request id, hits included.
      extraHeaders: ['x-ca-request-id', ctx.requestId],
      hitHeaders: HIT_HEADERS,
    };
    return request;
  }

  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission {
    const { plan } = request as AlibabaRequest;
    const verdict = storability(response, STORABLE);
    if (!verdict.store) return verdict;
    const lifetime = alibabaLifetime(response.headers, plan.plugin, now, response.statusCode);
    if (!lifetime.store) return lifetime.reason === 'status' ? { store: false, reason: 'status' } : lifetime;
    // The upstream Age counts (RFC 9111 §4.2.3): the entry is that much older already, and a hit's Age says so.
    const storedAt = now - lifetime.ageSeconds * 1000;
    const staleAt = storedAt + lifetime.lifetimeSeconds * 1000;
    const headers = replayableHeaders(response.headers, plan.kept);
    // The backend's Date is kept: a hit must not claim the answer was generated now (RFC 9110 §6.6.1).
    // (Validators are kept only when cacheableHeaders lists them, as Alibaba documents; an expired
    // entry with one is revalidated with a conditional request, RFC 9111 §4.3.1, else refetched.)
    const date = response.headers.date;
    if (typeof date === 'string' && !plan.kept.has('date')) headers.push(['date', date]);
    return { store: true, headers, times: { storedAt, staleAt, deleteAt: staleAt } };
  }

  /** Fresh until staleAt; then never served without the backend (no stale serving without permission). */
  usability(_request: CacheRequest, entry: CacheEntry, now: number): Freshness {
    return now < entry.staleAt ? 'fresh' : 'expired';
  }

  /** Alibaba: a full space stores nothing new (nothing is evicted) until entries expire. */
  hasRoom(request: CacheRequest, entry: CacheEntry): boolean {
    const { store, space, key } = request;
    const size = entrySize(key, entry);
    const fits = () => {
      const stats = store.stats(space);
      return !stats || stats.bytes + size <= stats.capacityBytes;
    };
    if (fits()) return true;
    const now = this.deps.now();
    if (store.pruneExpired && now - (this.lastPrune.get(space) ?? 0) >= PRUNE_INTERVAL_MS) {
      this.lastPrune.set(space, now);
      void store.pruneExpired(space);
      return fits();
    }
    return false;
  }

  /** Every plug-in space of a stage (for FlushStageCache). */
  spacesOf(apiId: string, stage: string): readonly string[] {
    return [...(this.spaces.get(stageId(apiId, stage)) ?? [])];
  }

  /** One space per plug-in and app (anonymous callers are one app), created on first use. */
  private space(ctx: RequestContext, plan: PluginPlan, appId: string | undefined): string {
    const stage = stageId(ctx.route.api.id, ctx.stage.name);
    const space = `${stage}\u0000plugin\u0000${plan.name}\u0000${appId ?? ''}`;
    let known = this.spaces.get(stage);
    if (!known) this.spaces.set(stage, (known = new Set()));
    if (!known.has(space)) {
      known.add(space);
      void this.deps.store.configureStage(space, plan.plugin.cacheSpaceBytes);
    }
    return space;
  }

  private planFor(route: MethodRoute): PluginPlan {
    let plan = this.plans.get(route);
    if (!plan) {
      const name = route.definition.cachePlugin!;
      const plugin = this.deps.plugins[name]!;
      const parameters = [
        ...plugin.varyByParameters.map((parameter) => `method.request.querystring.${parameter}`),
        ...plugin.varyByHeaders.map((header) => `method.request.header.${header}`),
      ];
      plan = { name, plugin, key: compileKeyPlan('GET', route.resourcePath, parameters), kept: keptHeaderNames(plugin) };
      this.plans.set(route, plan);
    }
    return plan;
  }
}
