/**
 * Lua scripts run on a stage's own slot (every key they touch carries the stage's hash tag, see
 * keys.ts), so each is atomic in standalone and Cluster alike. Entry keys live on other slots and
 * are never touched here: the client writes and unlinks them.
 *
 * Generations: a new generation is the server's clock in ms, or one more than the stage's
 * current generation or the caller's floor (the highest generation that node has used), whichever
 * is larger. After Redis lost its data (restart without persistence, `meta` evicted under
 * maxmemory) or came back from a snapshot taken before a flush (its generation went backwards),
 * the next generation is larger than any the old entries were written under: a flush never
 * comes back (issue 13). Generations stay below 2^53 (ms since 1970 plus flushes), exact in Lua.
 */

const NEW_GENERATION = `
local function newGeneration(meta, floor)
  local time = redis.call('TIME')
  local next = math.max(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), floor + 1)
  local gen = redis.call('HGET', meta, 'gen')
  if gen then next = math.max(next, tonumber(gen) + 1) end
  return next
end
`;

/**
 * KEYS meta; ARGV capacity, floor. The stage's generation; a new one when the capacity is new (AWS:
 * a new size is a new cache) or the stored one is below the caller's floor (Redis went back in time).
 */
const CONFIGURE = `${NEW_GENERATION}
local cap = redis.call('HGET', KEYS[1], 'cap')
local gen = redis.call('HGET', KEYS[1], 'gen')
local floor = tonumber(ARGV[2])
if gen and cap == ARGV[1] and tonumber(gen) >= floor then return tonumber(gen) end
gen = newGeneration(KEYS[1], floor)
redis.call('HSET', KEYS[1], 'cap', ARGV[1], 'gen', string.format('%.0f', gen))
return gen
`;

/** KEYS meta; ARGV floor. Flush: the next generation; entries of the old one age out by their PX. */
const FLUSH = `${NEW_GENERATION}
local gen = newGeneration(KEYS[1], tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'gen', string.format('%.0f', gen))
return gen
`;

/** KEYS meta; ARGV floor. Drop: forget the capacity and move on a generation. */
const DROP = `${NEW_GENERATION}
local gen = newGeneration(KEYS[1], tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'gen', string.format('%.0f', gen))
redis.call('HDEL', KEYS[1], 'cap')
return gen
`;

/**
 * Shared by the accounting scripts: KEYS[1] expiry zset (member → deleteAt), KEYS[2] age zset
 * (member → store sequence number, the eviction order), KEYS[3] size hash (+ "#bytes", "#seq"),
 * KEYS[4] tag index (member → its tag hashes); the tag sets are KEYS[4]..':'..hash, on the same
 * slot. Whichever way an entry leaves (replaced, deleted, evicted, expired, purged), forget()
 * takes it out of its tag sets too.
 */
const ACCOUNTING = `
local total = tonumber(redis.call('HGET', KEYS[3], '#bytes') or '0')
local function forget(member)
  local size = redis.call('HGET', KEYS[3], member)
  if size then
    redis.call('HDEL', KEYS[3], member)
    total = total - tonumber(size)
  end
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
  local tags = redis.call('HGET', KEYS[4], member)
  if tags then
    redis.call('HDEL', KEYS[4], member)
    for tag in string.gmatch(tags, '%S+') do redis.call('SREM', KEYS[4] .. ':' .. tag, member) end
  end
end
local function forgetExpired(now, limit)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
  for _, member in ipairs(expired) do forget(member) end
end
`;

/**
 * KEYS expiry, age, size, tags, meta; ARGV now, member, size, deleteAt, capacity, tag hashes….
 * Accounts a stored entry and indexes its purge tags; while the stage is over budget, evicts the least recently *stored*
 * entries (a hit writes nothing to Redis, so recency of use is not known here).
 * Returns { bytes, entries, evictions (total), evicted members... }.
 */
const ACCOUNT = `${ACCOUNTING}
local now, member, size, deleteAt, cap = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
forgetExpired(now, 100)
forget(member)
local evicted = {}
while total + size > cap do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then break end
  forget(oldest[1])
  evicted[#evicted + 1] = oldest[1]
end
redis.call('ZADD', KEYS[1], deleteAt, member)
redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[3], '#seq', 1), member)
total = total + size
redis.call('HSET', KEYS[3], member, size, '#bytes', total)
local evictions = 0
if #evicted > 0 then evictions = redis.call('HINCRBY', KEYS[5], 'evictions', #evicted)
else evictions = tonumber(redis.call('HGET', KEYS[5], 'evictions') or '0') end
-- The accounting of a generation outlives its longest entry by a minute, then goes by itself.
local ttl = math.max(deleteAt - now, 0) + 60000
local function outlive(key)
  -- PTTL is -1 without expiry (set one) and -2 when absent (PEXPIRE does nothing).
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if #ARGV > 5 then
  local tags = {}
  for i = 6, #ARGV do
    local set = KEYS[4] .. ':' .. ARGV[i]
    redis.call('SADD', set, member)
    outlive(set)
    tags[#tags + 1] = ARGV[i]
  end
  redis.call('HSET', KEYS[4], member, table.concat(tags, ' '))
end
for i = 1, 4 do outlive(KEYS[i]) end
return { total, redis.call('ZCARD', KEYS[1]), evictions, unpack(evicted) }
`;

/** KEYS expiry, age, size, tags; ARGV member. Forgets a deleted entry. Returns { bytes, entries }. */
const UNACCOUNT = `${ACCOUNTING}
forget(ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], '#bytes', total) end
return { total, redis.call('ZCARD', KEYS[1]) }
`;

/** KEYS expiry, age, size, tags, meta; ARGV now. Forgets expired entries. Returns { bytes, entries, evictions }. */
const STATS = `${ACCOUNTING}
forgetExpired(tonumber(ARGV[1]), 1000)
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], '#bytes', total) end
return { total, redis.call('ZCARD', KEYS[1]), tonumber(redis.call('HGET', KEYS[5], 'evictions') or '0') }
`;

/**
 * KEYS expiry, age, size, tags; ARGV now, tag hashes…. Forgets every entry carrying any of the
 * tags. O(entries purged) in one script: a very large purge holds the stage's shard that long.
 * Returns { bytes, entries, purged (those not yet past deleteAt), members… } — the caller
 * unlinks the members' entry keys, which live on other slots.
 */
const PURGE = `${ACCOUNTING}
local now = tonumber(ARGV[1])
local result = { 0, 0, 0 }
local seen = {}
local purged = 0
for i = 2, #ARGV do
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[4] .. ':' .. ARGV[i])) do
    if not seen[member] then
      seen[member] = true
      local deleteAt = redis.call('ZSCORE', KEYS[1], member)
      if deleteAt and tonumber(deleteAt) > now then purged = purged + 1 end
      forget(member)
      result[#result + 1] = member
    end
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], '#bytes', total) end
result[1] = total
result[2] = redis.call('ZCARD', KEYS[1])
result[3] = purged
return result
`;

export const SCRIPTS = {
  cgConfigure: { numberOfKeys: 1, lua: CONFIGURE },
  cgFlush: { numberOfKeys: 1, lua: FLUSH },
  cgDrop: { numberOfKeys: 1, lua: DROP },
  cgAccount: { numberOfKeys: 5, lua: ACCOUNT },
  cgUnaccount: { numberOfKeys: 4, lua: UNACCOUNT },
  cgStats: { numberOfKeys: 5, lua: STATS },
  cgPurge: { numberOfKeys: 4, lua: PURGE },
} as const;

/** The scripts as client methods (ioredis defineCommand adds them; EVALSHA with EVAL fallback). */
export interface ScriptCommands {
  cgConfigure(meta: string, capacityBytes: number, floor: number): Promise<number>;
  cgFlush(meta: string, floor: number): Promise<number>;
  cgDrop(meta: string, floor: number): Promise<number>;
  cgAccount(expiry: string, age: string, size: string, tags: string, meta: string, now: number, member: string, bytes: number, deleteAt: number, capacityBytes: number, ...tagHashes: string[]): Promise<[number, number, number, ...string[]]>;
  cgUnaccount(expiry: string, age: string, size: string, tags: string, member: string): Promise<[number, number]>;
  cgStats(expiry: string, age: string, size: string, tags: string, meta: string, now: number): Promise<[number, number, number]>;
  cgPurge(expiry: string, age: string, size: string, tags: string, now: number, ...tagHashes: string[]): Promise<[number, number, number, ...string[]]>;
}
