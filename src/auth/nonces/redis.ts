/**
 * Nonces shared by every gateway node on one Redis (SPEC §6, issue 13 defect 5): one sorted set
 * per app (member nonce, score expiresAt), so the check, the per-app bound and the record are one
 * atomic script — a replay sent to two nodes at once is admitted by at most one. Expired members
 * are removed by score first (O(log n + expired)), so the set never holds more than the app's
 * live window. The key carries the app in a hash tag, so on a Cluster it lives on one slot.
 *
 * Every call is bounded by `timeoutMs`; when Redis is slow or away the caller falls back to the
 * node's own memory (see FallbackNonceStore) rather than failing every signed request.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { NonceStore, NonceVerdict } from './nonce-store.js';

// KEYS[1] the app's set; ARGV nonce, expiresAt, now, limit. Returns 0 fresh, 1 replayed, 2 full.
const CLAIM_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000)
return 0
`;

type NonceRedis = (Redis | Cluster) & { cgNonceClaim(key: string, nonce: string, expiresAt: number, now: number, limit: number): Promise<number> };

export class RedisNonceStore implements NonceStore {
  private readonly client: NonceRedis;

  constructor(client: Redis | Cluster, private readonly timeoutMs: number) {
    client.defineCommand('cgNonceClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    this.client = client as NonceRedis;
  }

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): Promise<NonceVerdict> {
    const key = `cachegate:nonce:{${createHash('sha256').update(appId).digest('hex').slice(0, 32)}}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nonce check took over ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const claimed = this.client.cgNonceClaim(key, nonce, expiresAt, now, limit).then((code) => (code === 0 ? 'fresh' : code === 1 ? 'replayed' : 'full') as NonceVerdict);
    return Promise.race([claimed, timeout]).finally(() => clearTimeout(timer));
  }
}
