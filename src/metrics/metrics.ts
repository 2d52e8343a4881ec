/**
 * The Prometheus metrics of SPEC §9, on a registry of the gateway's own (several gateways can
 * live in one process, as in tests). Labels are api, stage, resource, method; cache outcomes reuse
 * the Cache-Status vocabulary.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterFamily, HistogramFamily } from './series.js';

const ROUTE_LABELS = ['api', 'stage', 'resource', 'method'] as const;
const STAGE_LABELS = ['api', 'stage'] as const;
// Latency buckets from 0.5 ms (a cache hit) to 30 s (the integration timeout).
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface StageCacheStats {
  api: string;
  stage: string;
  entries: number;
  bytes: number;
  evictions: number;
}

/**
 * The metric series of one route (api, stage, resource, method), resolved once: prom-client
 * hashes label sets on every call, too slow for the hit path.
 */
export interface RouteMetrics {
  readonly labels: Readonly<Record<(typeof ROUTE_LABELS)[number], string>>;
  readonly hits: { inc(): void };
  readonly misses: { inc(): void };
  readonly integrationLatency: { observe(seconds: number): void };
  /** Counts a request and its latency by status and cache outcome. */
  record(status: number, outcome: string, seconds: number): void;
}

export class GatewayMetrics {
  private readonly routes = new WeakMap<object, Map<string, Map<string, RouteMetrics>>>();

  readonly registry = new Registry();

  readonly cacheHits = new CounterFamily('cachegate_cache_hit_count_total', 'Requests answered from the cache (AWS CacheHitCount), stale and collapsed answers included.', ROUTE_LABELS, this.registry);
  readonly cacheMisses = new CounterFamily('cachegate_cache_miss_count_total', 'Requests to a cache-enabled method sent to the integration (AWS CacheMissCount).', ROUTE_LABELS, this.registry);
  readonly requests = new CounterFamily('cachegate_requests_total', 'Requests answered by the data plane, by HTTP status.', [...ROUTE_LABELS, 'status'], this.registry);
  readonly latency = new HistogramFamily('cachegate_latency_seconds', 'Time from request to response sent, as the caller sees it (AWS Latency), by cache outcome.', [...ROUTE_LABELS, 'cache'], LATENCY_BUCKETS, this.registry);
  readonly integrationLatency = new HistogramFamily('cachegate_integration_latency_seconds', 'Time from calling the integration to its response headers (AWS IntegrationLatency).', ROUTE_LABELS, LATENCY_BUCKETS, this.registry);
  readonly invalidations = new Counter({
    name: 'cachegate_cache_invalidations_total',
    help: 'Entries replaced or removed on request: client Cache-Control invalidations, flushes and purges.',
    labelNames: [...STAGE_LABELS, 'reason'],
    registers: [this.registry],
  });
  readonly notStored = new Counter({
    name: 'cachegate_cache_not_stored_total',
    help: 'Integration answers of cache-enabled methods that were not stored, by reason (status, set-cookie, vary-star, too-large, space-full, no-store, private, no-cache, expired, store-unavailable).',
    labelNames: [...STAGE_LABELS, 'reason'],
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'cachegate_store_errors_total',
    help: 'Cache store operations that failed or timed out; the request was served from the integration.',
    labelNames: ['store', 'operation'],
    registers: [this.registry],
  });
  readonly hitForPass = new Counter({
    name: 'cachegate_cache_hit_for_pass_total',
    help: 'Requests sent to the integration without coalescing because their key was marked hit-for-pass (its last answer could not be shared).',
    labelNames: STAGE_LABELS,
    registers: [this.registry],
  });
  readonly hitForPassKeys = new Gauge({
    name: 'cachegate_cache_hit_for_pass_keys',
    help: 'Keys currently marked hit-for-pass (bounded by HIT_FOR_PASS_MAX_KEYS).',
    registers: [this.registry],
  });
  readonly hitForPassEvictions = new Counter({
    name: 'cachegate_cache_hit_for_pass_evictions_total',
    help: 'Hit-for-pass marks dropped, oldest first, to stay within HIT_FOR_PASS_MAX_KEYS.',
    registers: [this.registry],
  });
  readonly waitTimeouts = new Counter({
    name: 'cachegate_cache_wait_timeouts_total',
    help: 'Requests that waited for another request\'s integration call for the same key until their own integration timeout (answered 504).',
    labelNames: STAGE_LABELS,
    registers: [this.registry],
  });
  readonly leaseWaits = new Counter({
    name: 'cachegate_cache_lease_waits_total',
    help: 'Misses that waited for another gateway thread\'s integration call for the same key (its fill lease) instead of calling themselves.',
    labelNames: STAGE_LABELS,
    registers: [this.registry],
  });
  readonly leaseTableFull = new Counter({
    name: 'cachegate_cache_lease_table_full_total',
    help: 'Misses that found every fill-lease slot their key may use held by other keys (LEASE_PROBES of LEASE_SLOTS): called without cross-thread coalescing.',
    labelNames: STAGE_LABELS,
    registers: [this.registry],
  });
  readonly integrationErrors = new Counter({
    name: 'cachegate_integration_errors_total',
    help: 'Integration calls that failed: timeout, unreachable, or a bad response.',
    labelNames: [...ROUTE_LABELS, 'kind'],
    registers: [this.registry],
  });

  /** The series of a route, built on first use; `owner` (the compiled route) scopes the cache. */
  forRoute(owner: object, api: string, stage: string, resource: string, method: string): RouteMetrics {
    let byStage = this.routes.get(owner);
    if (!byStage) this.routes.set(owner, (byStage = new Map()));
    let byMethod = byStage.get(stage);
    if (!byMethod) byStage.set(stage, (byMethod = new Map()));
    let found = byMethod.get(method);
    if (!found) byMethod.set(method, (found = this.buildRouteMetrics({ api, stage, resource, method })));
    return found;
  }

  private buildRouteMetrics(labels: RouteMetrics['labels']): RouteMetrics {
    const requests = new Map<number, { inc(): void }>();
    const latency = new Map<string, { observe(seconds: number): void }>();
    return {
      labels,
      hits: this.cacheHits.series(labels),
      misses: this.cacheMisses.series(labels),
      integrationLatency: this.integrationLatency.series(labels),
      record: (status, outcome, seconds) => {
        let counter = requests.get(status);
        if (!counter) requests.set(status, (counter = this.requests.series({ ...labels, status })));
        counter.inc();
        let histogram = latency.get(outcome);
        if (!histogram) latency.set(outcome, (histogram = this.latency.series({ ...labels, cache: outcome })));
        histogram.observe(seconds);
      },
    };
  }

  constructor(readStageStats: () => StageCacheStats[], options: { defaultMetrics?: boolean } = {}) {
    // Read from the stores when scraped, so the hot path never updates them.
    const eachStage = (field: 'bytes' | 'entries' | 'evictions', write: (labels: { api: string; stage: string }, value: number) => void) => {
      for (const stats of readStageStats()) write({ api: stats.api, stage: stats.stage }, stats[field]);
    };
    new Gauge({
      name: 'cachegate_cache_bytes',
      help: 'Bytes held by a stage cache (keys, headers and bodies).',
      labelNames: STAGE_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        eachStage('bytes', (labels, value) => this.set(labels, value));
      },
    });
    new Gauge({
      name: 'cachegate_cache_entries',
      help: 'Entries held by a stage cache.',
      labelNames: STAGE_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        eachStage('entries', (labels, value) => this.set(labels, value));
      },
    });
    new Counter({
      name: 'cachegate_cache_evictions_total',
      help: 'Entries evicted because a stage cache reached its byte budget (least recently used first).',
      labelNames: STAGE_LABELS,
      registers: [this.registry],
      collect() {
        // The store counts; a new (resized or re-created) stage cache starts again from 0, read as a counter reset.
        this.reset();
        eachStage('evictions', (labels, value) => this.inc(labels, value));
      },
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'cachegate_process_' });
  }
}
