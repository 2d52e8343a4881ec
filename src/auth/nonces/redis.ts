/**
 * Nonces shared by every gateway node on one Redis (SPEC §6, issue 13 defect 5): one sorted set
 * per app (member nonce, score expiresAt), so the check, the per-app bound and the record are one
 * atomic script — a replay sent to two nodes at once is admitted by at most one. Expired members
 * are removed by score first (O(log n + expired)), so the set never holds more than the app's
 * live window plus MAX_NODE_SKEW_MS. The key carries the app in a hash tag, so on a Cluster it lives on one slot.
 *
 * Every call is bounded by `timeoutMs`; when Redis is slow or away the caller falls back to the
 * node's own memory (see FallbackNonceStore) rather than failing every signed request.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { NonceStore, NonceVerdict } from './nonce-store.js';

// KEYS[1] the app's set; ARGV nonce, expiresAt, now, limit, sweepBefore. Returns 0 fresh, 1 replayed, 2 full.
// Records are swept only once expired for every node (sweepBefore = now - MAX_NODE_SKEW_MS): a node
// whose clock runs ahead must not drop a record a node behind it still needs. Whether a record is
// live, and the app's count, go by the calling node's own clock (`now`), as with the memory store.
const CLAIM_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
if known and tonumber(known) > tonumber(ARGV[3]) then return 1 end
if not known and redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf') >= tonumber(ARGV[4]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000 + tonumber(ARGV[6]))
return 0
`;

type NonceRedis = (Redis | Cluster) & { cgNonceClaim(key: string, nonce: string, expiresAt: number, now: number, limit: number, sweepBefore: number, skew: number): Promise<number> };

/** How far gateway nodes' clocks may differ without a replay getting through (records are kept that much longer). */
export const MAX_NODE_SKEW_MS = 5 * 60 * 1000;
/**
 * After Redis failed or timed out, claims skip it (falling back at once) for this long, then one
 * claim tries again: a hung Redis costs one timeout a second, not one per signed request.
 */
const RETRY_AFTER_MS = 1000;

export class RedisNonceStore implements NonceStore {
  private readonly client: NonceRedis;

  constructor(client: Redis | Cluster, private readonly timeoutMs: number) {
    client.defineCommand('cgNonceClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    this.client = client as NonceRedis;
  }

  /** performance.now() before which claims skip Redis (it failed or timed out last). */
  private skipUntil = 0;

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): Promise<NonceVerdict> {
    if (performance.now() < this.skipUntil) return Promise.reject(new Error('nonce store failed within the last second; not tried'));
    const key = `cachegate:nonce:{${createHash('sha256').update(appId).digest('hex').slice(0, 32)}}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nonce check took over ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const claimed = this.client.cgNonceClaim(key, nonce, expiresAt, now, limit, now - MAX_NODE_SKEW_MS, MAX_NODE_SKEW_MS)
      .then((code) => (code === 0 ? 'fresh' : code === 1 ? 'replayed' : 'full') as NonceVerdict);
    return Promise.race([claimed, timeout]).then(
      (verdict) => verdict,
      (error: unknown) => {
        this.skipUntil = performance.now() + RETRY_AFTER_MS;
        throw error;
      },
    ).finally(() => clearTimeout(timer));
  }
}
