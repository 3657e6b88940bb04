"""Lua scripts for the Redis review queue: every multi-key change happens in one script.

Keys (all under the store's prefix), passed as KEYS so the scripts stay declarative:
  1 items    hash   item id -> ReviewRequest JSON (every item ever queued: idempotent enqueue)
  2 member   hash   item id -> sort member "<seq>:<id>" (seq zero-padded: ties go oldest first)
  3 queued   zset   member  -> -priority (ZRANGE from 0 = highest priority, then oldest)
  4 byage    zset   item id -> enqueue time (oldest queued item, for stats)
  5 leases   hash   item id -> reviewer
  6 expiry   zset   item id -> lease expiry (unix seconds)
  7 skipped  set    "<id>\\n<reviewer>" (a reviewer who skipped an item is not given it again)
  8 labeled  hash   item id -> LabelEvent JSON
  9 seq      string enqueue counter
 10 enq_at   hash   item id -> enqueue time (kept while leased, so a returned item keeps its age)

Time comes from the Redis server (TIME), so every process agrees on lease expiry.
Scripts return {status, ...}: 0 ok, 1 not found, 2 conflict.
"""

from __future__ import annotations

PRELUDE = """
local K_ITEMS, K_MEMBER, K_QUEUED, K_BYAGE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_LEASES, K_EXPIRY, K_SKIPPED, K_LABELED = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_SEQ, K_ENQ_AT = KEYS[9], KEYS[10]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function requeue(id)
  local item = cjson.decode(redis.call('HGET', K_ITEMS, id))
  redis.call('ZADD', K_QUEUED, -tonumber(item['priority']), redis.call('HGET', K_MEMBER, id))
  redis.call('ZADD', K_BYAGE, tonumber(redis.call('HGET', K_ENQ_AT, id)), id)
end

-- Expired leases put their item back in the queue, in its original place.
local function reap()
  local expired = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now)
  for _, id in ipairs(expired) do
    redis.call('ZREM', K_EXPIRY, id)
    redis.call('HDEL', K_LEASES, id)
    requeue(id)
  end
end

-- NotFound / already labeled / not this reviewer's live lease, as the contract says.
local function check_lease(id, reviewer)
  if redis.call('HEXISTS', K_ITEMS, id) == 0 then
    return {1, 'unknown item ' .. id}
  end
  if redis.call('HEXISTS', K_LABELED, id) == 1 then
    return {2, 'item ' .. id .. ' is already labeled'}
  end
  if redis.call('HGET', K_LEASES, id) ~= reviewer then
    return {2, 'item ' .. id .. ' is not leased to reviewer ' .. reviewer}
  end
  return nil
end
"""

# ARGV: id, request JSON, priority
ENQUEUE = PRELUDE + """
local id = ARGV[1]
if redis.call('HSETNX', K_ITEMS, id, ARGV[2]) == 0 then
  return {0, 0}
end
local seq = redis.call('INCR', K_SEQ)
local member = string.format('%015d:', seq) .. id
redis.call('HSET', K_MEMBER, id, member)
redis.call('HSET', K_ENQ_AT, id, tostring(now))
redis.call('ZADD', K_QUEUED, -tonumber(ARGV[3]), member)
redis.call('ZADD', K_BYAGE, now, id)
return {0, 1}
"""

# ARGV: reviewer, ttl_s
LEASE = PRELUDE + """
reap()
local reviewer = ARGV[1]
local start = 0
while true do
  local chunk = redis.call('ZRANGE', K_QUEUED, start, start + 99)
  if #chunk == 0 then
    return {0, false}
  end
  for _, member in ipairs(chunk) do
    local id = string.sub(member, 17)
    if redis.call('SISMEMBER', K_SKIPPED, id .. '\\n' .. reviewer) == 0 then
      local expires = now + tonumber(ARGV[2])
      redis.call('ZREM', K_QUEUED, member)
      redis.call('ZREM', K_BYAGE, id)
      redis.call('HSET', K_LEASES, id, reviewer)
      redis.call('ZADD', K_EXPIRY, expires, id)
      return {0, redis.call('HGET', K_ITEMS, id), tostring(expires)}
    end
  end
  start = start + 100
end
"""

# ARGV: id, reviewer, ttl_s
HEARTBEAT = PRELUDE + """
reap()
local id, reviewer = ARGV[1], ARGV[2]
local err = check_lease(id, reviewer)
if err then return err end
local expires = now + tonumber(ARGV[3])
redis.call('ZADD', K_EXPIRY, expires, id)
return {0, redis.call('HGET', K_ITEMS, id), tostring(expires)}
"""

# ARGV: id, reviewer, label, LabelEvent JSON (built by the caller from the stored item)
SUBMIT = PRELUDE + """
reap()
local id, reviewer, label = ARGV[1], ARGV[2], ARGV[3]
local done = redis.call('HGET', K_LABELED, id)
if done then
  local event = cjson.decode(done)
  if event['reviewer'] == reviewer and event['label'] == label then
    return {0, done, 1}
  end
end
local err = check_lease(id, reviewer)
if err then return err end
redis.call('HDEL', K_LEASES, id)
redis.call('ZREM', K_EXPIRY, id)
redis.call('HSET', K_LABELED, id, ARGV[4])
return {0, ARGV[4], 0}
"""

# ARGV: id, reviewer
SKIP = PRELUDE + """
reap()
local id, reviewer = ARGV[1], ARGV[2]
local err = check_lease(id, reviewer)
if err then return err end
redis.call('HDEL', K_LEASES, id)
redis.call('ZREM', K_EXPIRY, id)
redis.call('SADD', K_SKIPPED, id .. '\\n' .. reviewer)
requeue(id)
return {0}
"""

STATS = PRELUDE + """
reap()
local oldest = redis.call('ZRANGE', K_BYAGE, 0, 0, 'WITHSCORES')
local age = false
if #oldest > 0 then
  age = tostring(math.max(0, now - tonumber(oldest[2])))
end
return {0, redis.call('ZCARD', K_QUEUED), redis.call('HLEN', K_LEASES),
        redis.call('HLEN', K_LABELED), age}
"""

# KEYS: counter key; ARGV: amount, ttl_ms or '' (the TTL applies only when the key is created)
INCR = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""
