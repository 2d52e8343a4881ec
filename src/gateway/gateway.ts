/**
 * A running gateway: the compiled snapshot of its APIs, the data-plane and admin listeners, the
 * cache store, identities, metrics and logs, wired together once at start. Control-plane changes
 * come in through applyApis(), which recompiles and swaps the snapshot without a restart.
 */
import { threadId } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AlibabaCachePolicy } from '../cache/policies/alibaba/policy.js';
import { HttpCachePolicy } from '../cache/policies/http/policy.js';
import { AwsCachePolicy } from '../cache/policies/aws/policy.js';
import { CacheStep } from '../cache/flow.js';
import { stageCapacityBytes } from '../cache/capacity.js';
import { sharedStateOf, type SharedState } from '../cache/shared-state.js';
import { createStore, memoryArenaBytes } from '../cache/stores/index.js';
import type { SharedStoreBuffers } from '../cache/stores/shared/layout.js';
import { FillLeases } from '../cache/stores/shared/leases.js';
import { stageId, type CacheStore } from '../cache/store.js';
import { EncryptedStore } from '../cache/crypto.js';
import type { PurgeMatch } from '../cache/tags.js';
import { validateApis, type LoadedConfig } from '../config/load.js';
import type { ApiConfig, ListenAddress } from '../config/schema.js';
import { decodeEncryptionKey } from '../config/semantics.js';
import { AdminPlane } from '../control/admin.js';
import { AppRegistry } from '../auth/apps.js';
import { FallbackNonceStore } from '../auth/nonces/fallback.js';
import { MemoryNonceStore } from '../auth/nonces/memory.js';
import type { NonceStore } from '../auth/nonces/nonce-store.js';
import { RedisNonceStore } from '../auth/nonces/redis.js';
import { AlibabaAppGate } from '../cache/policies/alibaba/app-gate.js';
import type { RequestContext } from './context.js';
import { IdentityRegistry } from '../auth/identities.js';
import { createIntegration, ProxyPool } from '../integrations/index.js';
import { silentLogger } from '../logging.js';
import { GatewayMetrics, type StageCacheStats } from '../metrics/metrics.js';
import { DataPlane } from './data-plane.js';
import { createListener, drain, listen, type Server } from './listener.js';
import type { Readiness } from './health.js';
import { reloadDecisions } from './reload.js';
import { Throttle } from './throttle.js';
import { readTls, tlsConfigOf, warnPlainTextSecrets, type Listener } from './tls.js';
import { RedisStore } from '../cache/stores/redis/redis-store.js';
import { compileSnapshot, type GatewaySnapshot } from './runtime.js';
import { readStateFile, writeStateFile } from './state-file.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Override `gateway.listen` / `gateway.admin` (e.g. port 0 in tests). */
  listen?: ListenAddress;
  admin?: ListenAddress;
  /**
   * Other processes of this gateway (`--workers`) holding their own memory caches: local changes
   * are published to them and theirs applied here. Not needed with a shared store.
   */
  siblings?: Siblings;
  /** The clock (epoch ms) the cache uses; tests drive it instead of sleeping. */
  now?: () => number;
  /** Gateway threads of one process (`--workers`): the off-heap memory store they all attach to. */
  sharedMemory?: SharedStoreBuffers;
  /** Gateway threads: serve on these listening descriptors (the first thread's) instead of binding. */
  listenFds?: { readonly data: number; readonly admin: number };
  /** Alibaba nonces shared with the other processes (`--workers` with the memory store: the primary's). */
  nonces?: NonceStore;
  /**
   * Gateway threads serving together with the memory store (`--workers N`): the throttling bucket
   * table they all use (throttle-shared.ts) and how many they are. Not used with a shared store.
   */
  threadBuckets?: { readonly table: SharedArrayBuffer; readonly threads: number };
}

/** A change one process made that its siblings must repeat on their own caches. */
export type SiblingChange =
  | { readonly kind: 'flush'; readonly apiId: string; readonly stage: string }
  | { readonly kind: 'purge'; readonly apiId: string; readonly stage: string; readonly match: PurgeMatch }
  | { readonly kind: 'apis'; readonly apis: unknown };

export interface Siblings {
  publish(change: SiblingChange): void;
  onChange(listener: (change: SiblingChange) => void): void;
}

export class Gateway {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Replaced by a SIGHUP reload (reload()). */
  identities: IdentityRegistry;
  readonly store: CacheStore;
  /** Control-plane state shared with the other nodes on the same store (Redis); undefined for memory. */
  private readonly shared: SharedState | undefined;
  readonly proxyPool = new ProxyPool();
  private plugins: AlibabaCachePolicy;
  private aws: AwsCachePolicy;
  private httpCaches: HttpCachePolicy;
  readonly throttle: Throttle;
  private readonly nonces: NonceStore;
  private apps: AppRegistry;
  readonly now: () => number;
  private current: GatewaySnapshot;
  /** Stage caches the store holds now, with their byte budgets. */
  private readonly stageCapacities = new Map<string, { apiId: string; stage: string; capacityBytes: number }>();
  private readonly dataServer: Server;
  private readonly adminServer: Server;
  dataUrl = '';
  adminUrl = '';
  private metricsSource: (() => Promise<string>) | undefined;

  private constructor(public loaded: LoadedConfig, private readonly options: GatewayOptions) {
    const { config } = loaded;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.identities = new IdentityRegistry(config.identities, config.gateway.region);
    this.store = createStore(config.store, { now: this.now, logger: this.logger, sharedMemory: options.sharedMemory, arenaBytes: memoryArenaBytes(config) });
    this.shared = sharedStateOf(this.store);
    this.metrics = new GatewayMetrics(() => this.stageStats(), { defaultMetrics: true });
    const apis = (config.gateway.stateFile && readStateFile(config.gateway.stateFile, config, loaded.baseDir)) || config.apis;
    this.current = this.compile(apis);
    // With a shared store, start() first adopts the shared API definitions, then creates stage caches.
    if (!this.shared) this.configureStageCaches();
    ({ aws: this.aws, plugins: this.plugins, httpCaches: this.httpCaches } = this.policies(config));
    // An API that uses Alibaba apps authenticates every caller first (app-gate.ts). Nonces outlive reloads.
    this.nonces = this.createNonceStore(options.nonces);
    this.apps = new AppRegistry(config.apps, this.nonces);
    // A method with a caching plug-in follows Alibaba's policy, one with httpCache RFC 9111; every other method AWS's stage cache.
    const policyOf = (ctx: RequestContext) => (ctx.route.definition.cachePlugin !== undefined ? this.plugins : ctx.route.definition.httpCache !== undefined ? this.httpCaches : this.aws);
    const appGate = new AlibabaAppGate({ apps: () => this.apps, now: this.now, policyOf });
    const cache = new CacheStep({
      store: this.store, storeType: config.store.type, metrics: this.metrics, logger: this.logger, now: this.now,
      // Threads sharing the memory store coalesce a key's misses across threads too (issue 17).
      leases: options.sharedMemory && !(this.store instanceof RedisStore) ? new FillLeases(options.sharedMemory.leases, threadId) : undefined,
      policyFor: (ctx) => (ctx.route.api.usesApps ? appGate : policyOf(ctx)),
    });
    const redis = this.store instanceof RedisStore ? this.store : undefined;
    this.throttle = new Throttle({
      account: config.gateway.throttle, registry: this.metrics.registry, logger: this.logger,
      redis: redis && { client: redis.client, timeoutMs: config.store.timeoutMs, onError: () => this.metrics.storeErrors.inc({ store: config.store.type, operation: 'throttle' }) },
      // Memory store with --workers N: one bucket per limit for all threads, in shared memory.
      threadBuckets: redis ? undefined : options.threadBuckets,
    });
    this.throttle.configure(this.current);
    const dataPlane = new DataPlane({ snapshot: () => this.current, metrics: this.metrics, logger: this.logger, cache, throttle: this.throttle });
    this.dataServer = createListener(dataPlane.handle, undefined, this.tlsOptions('data', loaded));
    this.adminServer = createListener(new AdminPlane(this).handle, undefined, this.tlsOptions('admin', loaded));
    options.siblings?.onChange((change) => {
      const applied = change.kind === 'flush' ? this.flushStage(change.apiId, change.stage, { announce: false })
        : change.kind === 'purge' ? this.purgeStage(change.apiId, change.stage, change.match, { announce: false })
        : this.applyApis(change.apis, { announce: false });
      applied.catch((error: unknown) => this.logger.error({ err: (error as Error).message, change: change.kind }, 'change from a sibling worker not applied'));
    });
  }

  /**
   * Where Alibaba nonces are remembered: Redis when the store is Redis (every node shares it),
   * else the primary process of `--workers` (given as `shared`), else this process — the shared
   * ones with this process's memory behind them for outages, each fallback counted.
   */
  private createNonceStore(shared: NonceStore | undefined): NonceStore {
    const fallback = (store: string) => (error: unknown) => {
      this.metrics.storeErrors.inc({ store, operation: 'nonce' });
      this.logger.debug({ err: (error as Error)?.message }, 'nonce check fell back to this process');
    };
    if (this.store instanceof RedisStore) return new FallbackNonceStore(new RedisNonceStore(this.store.client, this.loaded.config.store.timeoutMs), fallback(this.store.type));
    if (shared) return new FallbackNonceStore(shared, fallback('primary'));
    return new MemoryNonceStore();
  }

  /** Prometheus text of this gateway (all workers' when several serve together). */
  metricsText(): Promise<string> {
    return this.metricsSource?.() ?? this.metrics.registry.metrics();
  }

  /** Where `/metrics` comes from when several processes serve together. */
  setMetricsText(source: () => Promise<string>): void {
    this.metricsSource = source;
  }

  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const gateway = new Gateway(loaded, options);
    if (gateway.shared) await gateway.joinSharedState(gateway.shared);
    const settings = loaded.config.gateway;
    const addresses = { data: options.listen ?? settings.listen, admin: options.admin ?? settings.admin };
    const scheme = (listener: Listener) => (tlsConfigOf(loaded.config, listener) ? 'https' : 'http');
    try {
      const fds = options.listenFds;
      const data = await listen(gateway.dataServer, addresses.data, 'data listener', fds?.data);
      gateway.dataUrl = `${scheme('data')}://${hostForUrl(data.host)}:${data.port}`;
      const admin = await listen(gateway.adminServer, addresses.admin, 'admin listener', fds?.admin);
      gateway.adminUrl = `${scheme('admin')}://${hostForUrl(admin.host)}:${admin.port}`;
    } catch (error) {
      await gateway.close();
      throw error;
    }
    warnPlainTextSecrets(loaded.config, addresses, gateway.logger);
    gateway.logger.info({ data: gateway.dataUrl, admin: gateway.adminUrl, apis: gateway.current.apis.map((api) => api.id) }, 'cachegate started');
    return gateway;
  }

  /** The listening descriptors, for other gateway threads to serve on (cli/workers.ts). */
  get listenFds(): { data: number; admin: number } {
    const fd = (server: Server) => (server as unknown as { _handle: { fd: number } | null })._handle?.fd ?? -1;
    return { data: fd(this.dataServer), admin: fd(this.adminServer) };
  }

  get snapshot(): GatewaySnapshot {
    return this.current;
  }

  get region(): string {
    return this.loaded.config.gateway.region;
  }

  /** The API definitions serving traffic now (as configured, plus control-plane changes). */
  get apis(): readonly ApiConfig[] {
    return this.current.apis.map((api) => api.config);
  }

  /**
   * Replaces the API definitions: validated like the config file (a ConfigError names the path),
   * compiled, and swapped in for the next request. Stage caches keep their entries unless their
   * cache was turned off or resized (AWS: a new size is a new, empty cache). Persisted to
   * `gateway.stateFile` when set. With a shared store they are saved there and announced to the
   * other nodes before they apply here (a change that cannot be shared applies nowhere), except
   * when they came from another node (`announce: false`).
   */
  async applyApis(apis: unknown, options: { announce?: boolean; onSwap?: () => void } = {}): Promise<void> {
    const validated = validateApis(this.loaded.config, apis, this.loaded.baseDir);
    const compiled = this.compile(validated);
    if (this.shared && options.announce !== false) await this.shared.saveApis(validated);
    this.current = compiled;
    this.throttle.configure(compiled);
    // A reload swaps the rest of its file in the same tick: no request sees new APIs under old keys.
    options.onSwap?.();
    if (options.announce !== false) this.options.siblings?.publish({ kind: 'apis', apis: validated });
    this.configureStageCaches();
    const file = this.loaded.config.gateway.stateFile;
    if (file) await writeStateFile(file, validated);
    this.logger.info({ apis: validated.map((api) => api.id) }, 'API definitions applied');
  }

  /** Empties one stage cache at once, whatever its size (on sibling workers too, unless `announce: false`). */
  async flushStage(apiId: string, stage: string, options: { announce?: boolean } = {}): Promise<void> {
    // The stage cache, and the spaces of the caching plug-ins used on that stage.
    await Promise.all([stageId(apiId, stage), ...this.plugins.spacesOf(apiId, stage), ...this.httpCaches.spacesOf(apiId, stage)].map((space) => this.store.flush(space)));
    this.metrics.invalidations.inc({ api: apiId, stage, reason: 'flush' });
    if (options.announce !== false) this.options.siblings?.publish({ kind: 'flush', apiId, stage });
  }

  // ——— purge (SPEC §7, cachegate extension): by backend tag or path prefix ———

  /** The store as cacheDataEncrypted methods write it: their tags are HMACs, so a purge looks for those too. */
  private sealedForPurge: EncryptedStore | undefined;

  /**
   * Removes the stage's entries (stage cache and its plug-in spaces) carrying any of `match.tags`
   * or under `match.pathPrefix`; resolves with how many this process removed. Sibling workers
   * repeat it on their own memory caches (unless `announce: false`); a Redis store is shared, so
   * removing there reaches every node.
   */
  async purgeStage(apiId: string, stage: string, match: PurgeMatch, options: { announce?: boolean } = {}): Promise<number> {
    const text = this.loaded.config.store.encryptionKey;
    const key = text === undefined ? undefined : decodeEncryptionKey(text);
    if (key !== undefined) this.sealedForPurge ??= new EncryptedStore(this.store, key);
    // An entry is stored plain or sealed, never both: the two purges never count one entry twice.
    const stores = this.sealedForPurge ? [this.store, this.sealedForPurge] : [this.store];
    const spaces = [stageId(apiId, stage), ...this.plugins.spacesOf(apiId, stage), ...this.httpCaches.spacesOf(apiId, stage)];
    const counts = await Promise.all(spaces.flatMap((space) => stores.map((store) => store.purge(space, match))));
    const purged = counts.reduce((sum, count) => sum + count, 0);
    this.metrics.invalidations.inc({ api: apiId, stage, reason: 'purge' }, purged);
    if (options.announce !== false) this.options.siblings?.publish({ kind: 'purge', apiId, stage, match });
    return purged;
  }

  // ——— end purge ———

  // ——— SIGHUP reload (SPEC §8) ———

  /**
   * Applies a config file that was validated already (loadConfigFile): identities, apps, plug-ins,
   * throttling, certificates and APIs. Stage caches whose API, stage and cache settings are
   * unchanged keep their entries (configureStageCaches). What cannot change in a running process
   * (listen addresses, the store) is kept as it was and named in the log. If the file's `apis`
   * are the same as at the last load, the APIs serving now (with control-plane changes) stay.
   * Throws, leaving everything as it was, when certificates cannot be read or the APIs are refused.
   */
  async reload(next: LoadedConfig): Promise<void> {
    const { config, kept } = reloadDecisions(this.loaded.config, next.config);
    const loaded: LoadedConfig = { ...next, config };
    // Read the certificates and build everything first: a missing file fails the reload before anything changed.
    const tls = { data: this.tlsOptions('data', loaded), admin: this.tlsOptions('admin', loaded) };
    const apisChanged = JSON.stringify(next.config.apis) !== JSON.stringify(this.loaded.config.apis);
    const previous = this.loaded;
    const identities = new IdentityRegistry(config.identities, config.gateway.region);
    // The rest of the file, applied in the same tick as its APIs (or alone when they are unchanged):
    // a request sees the old config or the new one, never new APIs with old keys, limits or certificates.
    let swapped = false;
    const swap = () => {
      swapped = true;
      for (const listener of ['data', 'admin'] as const) {
        const options = tls[listener];
        const server = listener === 'data' ? this.dataServer : this.adminServer;
        // New handshakes use the new certificate; connections already open keep theirs.
        if (options && 'setSecureContext' in server) server.setSecureContext(options);
        else if (Boolean(options) !== 'setSecureContext' in server) kept.push(`${listener} listener TLS on/off`);
      }
      this.identities = identities;
      const policies = this.policies(config);
      this.aws = policies.aws;
      // The plug-in policy holds the spaces it created: kept unless plug-ins changed; a new one still
      // flushes the spaces the old one created.
      if (JSON.stringify(previous.config.cachePlugins) !== JSON.stringify(config.cachePlugins)) {
        policies.plugins.inheritSpaces(this.plugins);
        this.plugins = policies.plugins;
      }
      // Apps are re-read; their nonce records (this.nonces) are kept, so a reload never re-admits a replay.
      this.apps = new AppRegistry(config.apps, this.nonces);
      // The HTTP caches' spaces are kept unless their declarations changed.
      if (JSON.stringify(previous.config.httpCaches) !== JSON.stringify(config.httpCaches)) this.httpCaches = policies.httpCaches;
      this.throttle.configure(this.current, config.gateway.throttle);
    };
    this.loaded = loaded;
    try {
      if (apisChanged) await this.applyApis(config.apis, { onSwap: swap });
      else swap();
    } catch (error) {
      // Refused before anything served (invalid APIs, shared store down): all of it stays as it was.
      if (!swapped) {
        this.loaded = previous;
        throw error;
      }
      // The new config serves (only saving it failed, e.g. the state file): say so, keep it whole.
      this.logger.error({ err: (error as Error).message }, 'config reloaded, but the API definitions were not saved');
    }
    for (const what of kept) this.logger.warn({ setting: what }, 'config reloaded, but this setting needs a restart to change; keeping the running value');
    this.logger.info({ source: next.source, apisChanged }, 'config reloaded');
  }

  /** Ready when the config is loaded, both listeners listen and the store answers (GET /readyz). */
  async readiness(): Promise<Readiness> {
    const checks: Record<string, string> = { config: 'ok' };
    checks.dataListener = this.dataServer.listening ? 'ok' : 'not listening';
    checks.adminListener = this.adminServer.listening ? 'ok' : 'not listening';
    checks.store = await this.storeReachable();
    return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
  }

  private async storeReachable(): Promise<string> {
    if (!(this.store instanceof RedisStore)) return 'ok';
    const { client } = this.store;
    if (client.status !== 'ready') return `unreachable (${client.status})`;
    const budget = Math.max(this.loaded.config.store.timeoutMs * 20, 1000);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([client.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${budget} ms`)), budget)))]);
      return 'ok';
    } catch (error) {
      return `unreachable (${(error as Error).message})`;
    } finally {
      clearTimeout(timer);
    }
  }

  private tlsOptions(listener: Listener, loaded: LoadedConfig) {
    const tls = tlsConfigOf(loaded.config, listener);
    return tls && readTls(tls, loaded.baseDir);
  }

  private policies(config: LoadedConfig['config']): { aws: AwsCachePolicy; plugins: AlibabaCachePolicy; httpCaches: HttpCachePolicy } {
    const encryptionKey = config.store.encryptionKey === undefined ? undefined : decodeEncryptionKey(config.store.encryptionKey);
    return {
      aws: new AwsCachePolicy({ store: this.store, identities: this.identities, region: config.gateway.region, accountId: config.gateway.accountId, encryptionKey }),
      plugins: new AlibabaCachePolicy({ store: this.store, plugins: config.cachePlugins, now: this.now }),
      httpCaches: new HttpCachePolicy({ store: this.store, caches: config.httpCaches, now: this.now }),
    };
  }

  // ——— end reload ———

  /** Stops accepting, finishes in-flight requests (bounded by gateway.shutdownTimeoutMs), releases pools and the store. */
  async close(): Promise<void> {
    const timeout = this.loaded.config.gateway.shutdownTimeoutMs;
    await Promise.all([drain(this.dataServer, timeout), drain(this.adminServer, timeout)]);
    await this.proxyPool.close();
    await this.store.close();
  }

  /**
   * Shared store: start from the API definitions the nodes share (a new node joins with the current
   * state), else from the config; then follow the changes other nodes announce.
   */
  private async joinSharedState(shared: SharedState): Promise<void> {
    try {
      const apis = await shared.loadApis();
      if (apis !== undefined) {
        this.current = this.compile(validateApis(this.loaded.config, apis, this.loaded.baseDir));
        this.throttle.configure(this.current);
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'shared API definitions not loaded; starting from the config');
    }
    this.configureStageCaches();
    shared.onApisChanged((apis) => {
      this.applyApis(apis, { announce: false }).then(
        () => this.logger.info('API definitions changed by another node applied'),
        (error: unknown) => this.logger.error({ err: (error as Error).message }, 'API definitions from another node rejected'),
      );
    });
  }

  private compile(apis: readonly ApiConfig[]): GatewaySnapshot {
    const deps = { baseDir: this.loaded.baseDir, proxyPool: this.proxyPool, accountId: this.loaded.config.gateway.accountId };
    return compileSnapshot(apis, (_api, _resource, _method, definition) => createIntegration(definition.integration!, deps));
  }

  /** Creates, resizes or drops stage caches to match the current snapshot. */
  private configureStageCaches(): void {
    const wanted = new Map<string, { apiId: string; stage: string; capacityBytes: number }>();
    for (const api of this.current.apis) {
      for (const stage of api.stages.values()) {
        if (stage.config.cacheClusterEnabled) wanted.set(stageId(api.id, stage.name), { apiId: api.id, stage: stage.name, capacityBytes: stageCapacityBytes(stage.config) });
      }
    }
    for (const [id, had] of this.stageCapacities) {
      if (!wanted.has(id)) {
        void this.store.dropStage(id);
        this.stageCapacities.delete(id);
        this.logger.info({ api: had.apiId, stage: had.stage }, 'stage cache deleted');
      }
    }
    for (const [id, want] of wanted) {
      if (this.stageCapacities.get(id)?.capacityBytes === want.capacityBytes) continue;
      void this.store.configureStage(id, want.capacityBytes);
      this.stageCapacities.set(id, want);
      this.logger.info({ api: want.apiId, stage: want.stage, capacityBytes: want.capacityBytes }, 'stage cache created');
    }
  }

  private stageStats(): StageCacheStats[] {
    const result: StageCacheStats[] = [];
    for (const [id, { apiId, stage }] of this.stageCapacities) {
      const stats = this.store.stats(id);
      if (stats) result.push({ api: apiId, stage, entries: stats.entries, bytes: stats.bytes, evictions: stats.evictions });
    }
    return result;
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
