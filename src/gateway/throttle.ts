/**
 * Throttling as on AWS (SPEC §8): a method bucket per stage and method (when its method settings
 * set limits below the account's) under one account-level bucket (`gateway.throttle`), checked
 * before the cache. Over either limit: 429 TooManyRequestsException, counted in
 * cachegate_throttled_requests_total{scope=method|account}.
 *
 * Cost: when no method setting sets a limit and `gateway.throttle` is not configured, `active` is
 * false and the data plane does nothing at all. Otherwise a route's plan is resolved once per
 * snapshot (stage × route × method) and a request costs one or two in-process bucket updates (in
 * the threads' shared table, each under a per-bucket lock); with Redis, a lease call every
 * `leaseSize` requests (throttle-redis.ts states the bound).
 *
 * Where buckets live: in this thread (one gateway thread), in the threads' shared table
 * (`--workers N` with the memory store: one bucket per limit for the whole process,
 * throttle-shared.ts), or in Redis (every node, throttle-redis.ts).
 *
 * Buckets outlive snapshots: a control-plane change or a SIGHUP reload that keeps a method's limits
 * keeps its bucket (and its spent tokens); new limits start a full bucket.
 */
import { createHash } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HttpMethod } from '../config/schema.js';
import type { RedisClient } from '../cache/stores/redis/connection.js';
import { LocalBucket, type Admission, type Bucket, type ThrottleLimits } from './throttle-bucket.js';
import { leaseClient, SharedBucket, ThrottleStoreHealth } from './throttle-redis.js';
import { anyMethodLimit, DEFAULT_ACCOUNT_LIMITS, resolveMethodLimits } from './throttle-settings.js';
import { SharedBucketTable } from './throttle-shared.js';
import type { GatewaySnapshot, MethodRoute, StageRuntime } from './runtime.js';

export type ThrottleScope = 'method' | 'account';

/** What a request is checked against; undefined when nothing applies to it. */
interface Plan {
  readonly method: Bucket | undefined;
  readonly account: Bucket | undefined;
}

export interface ThrottleOptions {
  /** `gateway.throttle` when configured; undefined: the AWS default, enforced only through method limits. */
  readonly account: ThrottleLimits | undefined;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Redis: buckets shared by every node (with the store's call budget). */
  readonly redis?: { client: RedisClient; timeoutMs: number; onError: () => void };
  /** `--workers N` with the memory store: the threads' shared bucket table (createThrottleTable) and how many threads use it. */
  readonly threadBuckets?: { readonly table: SharedArrayBuffer; readonly threads: number };
}

/** The verdict: undefined admits; a scope refuses (a promise when a shared bucket must be asked). */
export type ThrottleVerdict = ThrottleScope | undefined | Promise<ThrottleScope | undefined>;

export class Throttle {
  /** False when no limit is configured anywhere: the data plane skips throttling entirely. */
  active = false;
  private accountLimits: ThrottleLimits;
  private accountBucket: Bucket | undefined;
  private readonly buckets = new Map<string, Bucket>();
  private plans = new WeakMap<StageRuntime, Map<MethodRoute, Map<HttpMethod, Plan | null>>>();
  private readonly throttled: Counter<'api' | 'stage' | 'resource' | 'method' | 'scope'>;
  private readonly health: ThrottleStoreHealth;
  private readonly table: SharedBucketTable | undefined;

  constructor(private options: ThrottleOptions) {
    this.throttled = new Counter({
      name: 'cachegate_throttled_requests_total',
      help: 'Requests refused with 429 by throttling, by the limit that refused them (method setting or account).',
      labelNames: ['api', 'stage', 'resource', 'method', 'scope'],
      registers: [options.registry],
    });
    this.health = new ThrottleStoreHealth(options.logger);
    this.table = options.threadBuckets && !options.redis ? this.sharedTable(options.threadBuckets) : undefined;
    this.accountLimits = options.account ?? DEFAULT_ACCOUNT_LIMITS;
    // Define the lease script now, before any traffic: defined lazily at a first throttled request,
    // an ioredis auto-pipeline opened earlier in that tick lacks it (redis/ioredis#1931) and its
    // batch throws from a callback ("results[i] is not iterable"), an uncaught exception.
    if (options.redis) leaseClient(options.redis.client);
  }

  /** A new snapshot (start, control-plane change) or new account limits (reload). */
  configure(snapshot: GatewaySnapshot, account: ThrottleLimits | undefined = this.options.account): void {
    if (!sameLimits(account, this.options.account)) this.accountBucket = undefined;
    this.options = { ...this.options, account };
    this.accountLimits = account ?? DEFAULT_ACCOUNT_LIMITS;
    this.accountBucket ??= account ? this.bucket('account', account) : undefined;
    this.plans = new WeakMap();
    this.active = account !== undefined || anyMethodLimit(snapshot.apis.flatMap((api) => [...api.stages.values()].map((stage) => stage.config)));
  }

  /** Takes a token for a routed request; call only when `active`. */
  check(stage: StageRuntime, route: MethodRoute, method: HttpMethod): ThrottleVerdict {
    const plan = this.planFor(stage, route, method);
    if (!plan) return undefined;
    const first = plan.method?.take() ?? true;
    if (first === true) return this.takeAccount(plan);
    if (first === false) return 'method';
    return first.then((admitted) => (admitted ? this.takeAccount(plan) : 'method'));
  }

  /** Counts a refusal (the data plane answers it). */
  count(labels: { api: string; stage: string; resource: string; method: string }, scope: ThrottleScope): void {
    this.throttled.inc({ ...labels, scope });
  }

  private takeAccount(plan: Plan): ThrottleScope | undefined | Promise<ThrottleScope | undefined> {
    const admitted: Admission = plan.account?.take() ?? true;
    if (admitted === true) return undefined;
    if (admitted === false) return 'account';
    return admitted.then((ok) => (ok ? undefined : 'account'));
  }

  private planFor(stage: StageRuntime, route: MethodRoute, method: HttpMethod): Plan | null {
    let byRoute = this.plans.get(stage);
    if (!byRoute) this.plans.set(stage, (byRoute = new Map()));
    let byMethod = byRoute.get(route);
    if (!byMethod) byRoute.set(route, (byMethod = new Map()));
    let plan = byMethod.get(method);
    if (plan === undefined) {
      const limits = resolveMethodLimits(stage.config, route.resourcePath, method, this.accountLimits);
      const keyMethod = method === 'HEAD' ? 'GET' : method;
      const methodBucket = limits && this.bucket(`method\u0000${route.api.id}\u0000${stage.name}\u0000${route.resourcePath}\u0000${keyMethod}`, limits);
      plan = methodBucket || this.accountBucket ? { method: methodBucket, account: this.accountBucket } : null;
      byMethod.set(method, plan);
    }
    return plan;
  }

  /** The bucket for `id` with these limits: kept across snapshots while the limits stay the same. */
  private bucket(id: string, limits: ThrottleLimits): Bucket {
    const key = `${id}\u0000${limits.rateLimit}\u0000${limits.burstLimit}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const { redis } = this.options;
      bucket = redis
        ? new SharedBucket(`cachegate:throttle:${hashKey(key)}`, limits, { ...redis, logger: this.options.logger, health: this.health })
        : this.table?.bucket(key, limits) ?? new LocalBucket(limits);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** The threads' table; a bucket that finds it full throttles per thread, counted and logged (once per bucket). */
  private sharedTable({ table, threads }: { table: SharedArrayBuffer; threads: number }): SharedBucketTable {
    const full = new Counter({
      name: 'cachegate_throttle_table_full_total',
      help: 'Throttling buckets that found the gateway threads\' shared bucket table full and hold 1/N of their limit per thread instead.',
      registers: [this.options.registry],
    });
    return new SharedBucketTable(table, {
      threads,
      onFull: (identity) => {
        full.inc();
        this.options.logger.warn({ bucket: identity.replaceAll('\u0000', ' '), threads }, 'shared throttling table full: this limit is split between the threads (1/N each)');
      },
    });
  }
}

function sameLimits(a: ThrottleLimits | undefined, b: ThrottleLimits | undefined): boolean {
  return a?.rateLimit === b?.rateLimit && a?.burstLimit === b?.burstLimit;
}

/** Redis key part: printable and bounded, whatever the resource path holds. */
function hashKey(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
