/**
 * Throttling shared by every gateway node on one Redis (SPEC §8: "shared by all workers and nodes
 * on one store, approximate within a stated bound").
 *
 * The bucket lives in Redis (one hash per bucket, refilled by a Lua script on Redis's own clock,
 * so node clocks never disagree). A node does not ask Redis per request: it *leases* a small batch
 * of tokens (`leaseSize`) and spends them locally; only when its lease is spent does it ask again.
 * A lease unused after LEASE_TTL_MS is dropped (the tokens are lost, never returned: the error
 * is on the strict side). When Redis grants nothing, the node refuses locally until the time Redis
 * said a token will exist (at most LEASE_TTL_MS), so a flood over the limit does not become a
 * flood of Redis calls: one per bucket per node per second at most.
 *
 * Bound: tokens are taken out of the shared bucket before they are spent, so the only excess over
 * a single bucket is the tokens nodes hold in leases. Over any interval T the cluster admits at
 * most `burstLimit + rateLimit·T + N·leaseSize` requests (N nodes, or worker processes).
 *
 * Redis unreachable or slow (over `store.timeoutMs`): the node falls back to an in-process bucket
 * with the same limits (so N nodes may admit N times the limit while Redis is away), counts the
 * failure in cachegate_store_errors_total{operation="throttle"} and logs once per outage.
 */
import type { Logger } from 'pino';
import type { RedisClient } from '../cache/stores/redis/connection.js';
import { LocalBucket, monotonicMs, type Bucket, type ThrottleLimits } from './throttle-bucket.js';

/** Unspent leased tokens are dropped after this long, so a node cannot bank them. */
export const LEASE_TTL_MS = 1_000;
/** Most tokens a node takes at once, whatever the rate. */
export const MAX_LEASE = 1_000;

/**
 * Tokens per lease: about 50 ms of the rate, at most a tenth of the burst (so N nodes cannot drain
 * a small burst into leases), at least 1.
 */
export function leaseSize(limits: ThrottleLimits): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.ceil(limits.rateLimit / 20), Math.floor(limits.burstLimit / 10)));
}

/** KEYS[1] bucket; ARGV rate, burst, want → {granted, ms until a token exists when none was granted}. */
const LEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
local granted = math.min(want, math.floor(tokens))
if granted < 0 then granted = 0 end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
local idle = 60000
if rate > 0 then idle = math.ceil(burst * 1000 / rate) + 1000 end
redis.call('PEXPIRE', KEYS[1], math.min(idle, 86400000))
local wait = 0
if granted == 0 then
  if rate > 0 then wait = math.ceil((1 - tokens) * 1000 / rate) else wait = 1000 end
end
return {granted, wait}
`;

type LeaseClient = RedisClient & { cgThrottleLease(key: string, rate: number, burst: number, want: number): Promise<[number, number]> };

export interface SharedBucketDeps {
  readonly client: RedisClient;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Called once per failed Redis call (the metric). */
  readonly onError: () => void;
  readonly now?: () => number;
}

/** Installs the lease script on a store's client (once per client). */
export function leaseClient(client: RedisClient): LeaseClient {
  const candidate = client as LeaseClient;
  if (typeof candidate.cgThrottleLease !== 'function') client.defineCommand('cgThrottleLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  return candidate;
}

/** Availability of the throttle's Redis calls, logged once per outage like the store's. */
export class ThrottleStoreHealth {
  private available = true;
  constructor(private readonly logger: Logger) {}
  failed(error: unknown): void {
    if (!this.available) return;
    this.available = false;
    this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'throttle buckets unreachable in the store; each node throttles on its own until it returns');
  }
  succeeded(): void {
    if (this.available) return;
    this.available = true;
    this.logger.info('throttle buckets reachable in the store again');
  }
}

export class SharedBucket implements Bucket {
  private leased = 0;
  private leaseExpiresAt = 0;
  /** Redis said no token exists before this time: refuse locally until then. */
  private emptyUntil = 0;
  private pending: Promise<void> | undefined;
  private readonly lease: number;
  private readonly fallback: LocalBucket;
  private readonly client: LeaseClient;
  private readonly now: () => number;
  private useFallbackUntil = 0;

  constructor(private readonly key: string, readonly limits: ThrottleLimits, private readonly deps: SharedBucketDeps & { health: ThrottleStoreHealth }) {
    this.lease = leaseSize(limits);
    this.now = deps.now ?? monotonicMs;
    this.fallback = new LocalBucket(limits, this.now);
    this.client = leaseClient(deps.client);
  }

  take(): boolean | Promise<boolean> {
    const now = this.now();
    if (this.leased > 0 && now < this.leaseExpiresAt) {
      this.leased--;
      return true;
    }
    if (now < this.emptyUntil) return false;
    if (now < this.useFallbackUntil) return this.fallback.take();
    // One lease call at a time per bucket; requests arriving meanwhile wait for it, then decide again:
    // a leased token, a local refusal, the fallback (Redis down), or — the renewal's tokens went to
    // earlier waiters — another renewal (each round grants tokens or sets emptyUntil).
    this.pending ??= this.renew().finally(() => (this.pending = undefined));
    return this.pending.then(() => this.take());
  }

  private async renew(): Promise<void> {
    const { rateLimit, burstLimit } = this.limits;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.client.cgThrottleLease(this.key, rateLimit, burstLimit, this.lease),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`throttle lease took longer than ${this.deps.timeoutMs} ms`)), this.deps.timeoutMs))),
      ]);
      this.deps.health.succeeded();
      const granted = Number(answer[0]);
      const now = this.now();
      if (granted > 0) {
        this.leased = granted;
        this.leaseExpiresAt = now + LEASE_TTL_MS;
      } else {
        // Asked again after at most a second: a bucket reset in Redis (restart, new limits
        // elsewhere) is seen soon, at one call per second per node while over the limit.
        this.emptyUntil = now + Math.min(LEASE_TTL_MS, Math.max(1, Number(answer[1])));
      }
    } catch (error) {
      this.deps.onError();
      this.deps.health.failed(error);
      // Degrade to local throttling for a second, then ask Redis again.
      this.useFallbackUntil = this.now() + LEASE_TTL_MS;
    } finally {
      clearTimeout(timer);
    }
  }
}
