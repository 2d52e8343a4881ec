/**
 * Alibaba Cloud API Gateway's caching plug-in (SPEC §6) as a cache policy: GET only; the key is
 * method, path, the caller's app (varyByApp), varyByParameters and varyByHeaders; the backend's
 * Cache-Control decides the lifetime (else `duration`, at most 48 h); only Content-Type/Length and
 * cacheableHeaders are kept; each app has its own space per plug-in that never evicts: when full,
 * new responses are simply not stored until entries expire.
 */
import type { CachePluginConfig } from '../../../config/schema.js';
import type { AppRegistry } from '../../../auth/apps.js';
import { GatewayError } from '../../../errors.js';
import type { RequestContext } from '../../../gateway/context.js';
import type { MethodRoute } from '../../../gateway/runtime.js';
import type { IntegrationResponse } from '../../../integrations/integration.js';
import type { Admission, CachePolicy, CacheRequest, StaleWindows } from '../../cache-policy.js';
import { entrySize, type CacheEntry } from '../../entry.js';
import { replayableHeaders } from '../../entry-writer.js';
import { compileKeyPlan, keyRequest, type KeyPlan } from '../../key.js';
import { alibabaLifetime, keptHeaderNames, mayRefresh } from './rules.js';
import { storability } from '../aws/rules.js';
import { stageId, type CacheStore } from '../../store.js';

const HIT_HEADERS = ['x-ca-caching', 'true'];
const NONE: readonly string[] = [];
/** Entries carry their own stale-while-revalidate window (deleteAt); any time before deleteAt may serve stale. */
const ENTRY_WINDOWS: StaleWindows = { staleWhileRevalidateSeconds: Number.MAX_SAFE_INTEGER / 1000, staleIfErrorSeconds: 0 };
/** How often a full space is swept for expired entries. */
const PRUNE_INTERVAL_MS = 1000;
// Alibaba stores 2xx answers like AWS; Set-Cookie answers are not stored (one caller's session).
const STORABLE = { cacheableStatusCodes: new Set(Array.from({ length: 100 }, (_, i) => 200 + i)), cacheResponsesWithSetCookie: false };

export interface AlibabaPolicyDeps {
  store: CacheStore;
  apps: AppRegistry;
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
  /** Spaces a policy replaced by a reload had created (inheritSpaces), for flushes and purges. */
  private readonly inherited = new Map<string, Set<string>>();
  private readonly lastPrune = new Map<string, number>();

  constructor(private readonly deps: AlibabaPolicyDeps) {}

  begin(ctx: RequestContext): CacheRequest | undefined {
    // The plug-in caches GET only; HEAD is answered from the GET entry.
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return undefined;
    const plan = this.planFor(ctx.route);
    const caller = this.deps.apps.identify({ method: ctx.method, rawUrl: ctx.req.url ?? '/', headers: ctx.req.headers }, this.deps.now());
    if (caller.kind === 'rejected') throw new GatewayError('FORBIDDEN', caller.message);
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
      extraHeaders: NONE,
      hitHeaders: HIT_HEADERS,
    };
    return request;
  }

  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission {
    const { plan } = request as AlibabaRequest;
    const verdict = storability(response, STORABLE);
    if (!verdict.store) return verdict;
    const lifetime = alibabaLifetime(response.headers, plan.plugin, now);
    if (!lifetime.store) return lifetime;
    const staleAt = now + lifetime.ttlSeconds * 1000;
    return {
      store: true,
      headers: replayableHeaders(response.headers, plan.kept),
      times: { storedAt: now, staleAt, deleteAt: staleAt + lifetime.staleWhileRevalidateSeconds * 1000 },
    };
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
    const id = stageId(apiId, stage);
    const own = this.spaces.get(id) ?? [];
    const inherited = this.inherited.get(id);
    return inherited ? [...new Set([...own, ...inherited])] : [...own];
  }

  /**
   * A reload replaced `previous` (new apps or plug-ins): the spaces it created still hold entries,
   * so a stage flush or purge must keep reaching them. They are configured again on first use here.
   * Its replay records carry over as well.
   */
  inheritSpaces(previous: AlibabaCachePolicy): void {
    // Its nonce records too: a signed request seen before the reload stays used after it.
    this.deps.apps.inheritNonces(previous.deps.apps);
    for (const source of [previous.inherited, previous.spaces]) {
      for (const [stage, spaces] of source) {
        let known = this.inherited.get(stage);
        if (!known) this.inherited.set(stage, (known = new Set()));
        for (const space of spaces) known.add(space);
      }
    }
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
