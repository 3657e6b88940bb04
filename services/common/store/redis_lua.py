"""Lua scripts for the Redis review queue: every multi-key change happens in one script.

Keys (all under the store's prefix), passed as KEYS so the scripts stay declarative; the
memory queue (store/memory_queue.py) keeps the same state in the same shapes:
  1 items    hash   item id -> ReviewRequest JSON (every item ever queued: idempotent enqueue)
  2 member   hash   item id -> sort member "<seq>:<id>" (seq zero-padded: ties go oldest first)
  3 queued   zset   member  -> -priority (ZRANGE from 0 = highest priority, then oldest)
  4 byage    zset   item id -> enqueue time (oldest queued item, for stats)
  5 live     hash   lease id -> item id "\\n" reviewer (live leases)
  6 expiry   zset   lease id -> lease expiry (unix seconds)
  7 excluded set    "<id>\\n<reviewer>": skipped or voted, not offered to them again
  8 done     hash   item id -> 1 (all votes in)
  9 seq      string enqueue counter
 10 enq_at   hash   item id -> enqueue time (kept while leased, so a returned item keeps its age)
 11 held     hash   item id -> live lease id
 12 issued   hash   lease id -> item id "\\n" reviewer (every lease: stale vs unknown vs foreign)
 13 votes    hash   item id -> JSON array of vote LabelEvent JSON strings (kept verbatim, so
                    embeddings never pass through cjson's number formatting)
 14 needed   hash   item id -> votes needed (k)
 15 finished hash   lease id -> the vote given under it (idempotent resubmission)
 16 current  hash   item id -> the published LabelEvent JSON
 17 events   hash   event id -> item id
 18 rescored hash   item id -> Rescore JSON (newest model's scores; priority used when present)
 19 outbox   stream label events for the labels topic, added in the script that made them
                    (fields k: item id, e: event JSON; store/redis_outbox.py drains it)

Time comes from the Redis server (TIME), so every process agrees on lease expiry.
Scripts return {status, ...}: 0 ok, 1 not found, 2 conflict, 3 forbidden.
"""

from __future__ import annotations

KEY_NAMES = (
    "items", "member", "queued", "byage", "live", "expiry", "excluded", "done", "seq", "enq_at",
    "held", "issued", "votes", "needed", "finished", "current", "events", "rescored", "outbox",
)

PRELUDE = """
local K_ITEMS, K_MEMBER, K_QUEUED, K_BYAGE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_LIVE, K_EXPIRY, K_EXCLUDED, K_DONE = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_SEQ, K_ENQ_AT, K_HELD, K_ISSUED = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local K_VOTES, K_NEEDED, K_FINISHED, K_CURRENT = KEYS[13], KEYS[14], KEYS[15], KEYS[16]
local K_EVENTS, K_RESCORED, K_OUTBOX = KEYS[17], KEYS[18], KEYS[19]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function split(s)
  local at = string.find(s, '\\n', 1, true)
  return string.sub(s, 1, at - 1), string.sub(s, at + 1)
end

local function priority(id)
  local rescored = redis.call('HGET', K_RESCORED, id)
  if rescored then return tonumber(cjson.decode(rescored)['priority']) end
  return tonumber(cjson.decode(redis.call('HGET', K_ITEMS, id))['priority'])
end

local function requeue(id)
  redis.call('ZADD', K_QUEUED, -priority(id), redis.call('HGET', K_MEMBER, id))
  redis.call('ZADD', K_BYAGE, tonumber(redis.call('HGET', K_ENQ_AT, id)), id)
end

local function unqueue(id)
  redis.call('ZREM', K_QUEUED, redis.call('HGET', K_MEMBER, id))
  redis.call('ZREM', K_BYAGE, id)
end

local function release(lease_id)
  local id = split(redis.call('HGET', K_LIVE, lease_id))
  redis.call('HDEL', K_LIVE, lease_id)
  redis.call('ZREM', K_EXPIRY, lease_id)
  redis.call('HDEL', K_HELD, id)
  return id
end

-- Expired leases put their item back in the queue, in its place.
local function reap()
  for _, lease_id in ipairs(redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now)) do
    requeue(release(lease_id))
  end
end

-- A published label, consensus label or correction and its outbox entry: one script, one step.
local function outbox(id, event)
  redis.call('XADD', K_OUTBOX, '*', 'k', id, 'e', event)
end

local function votes(id)
  local raw = redis.call('HGET', K_VOTES, id)
  if raw then return cjson.decode(raw) end
  return {}
end

local function lease_reply(lease_id, id, expires)
  return {0, redis.call('HGET', K_ITEMS, id), redis.call('HGET', K_RESCORED, id) or '',
          tostring(expires), lease_id, #votes(id), tonumber(redis.call('HGET', K_NEEDED, id))}
end

local function grant(id, reviewer, ttl, lease_id)
  local expires = now + ttl
  unqueue(id)
  redis.call('HSET', K_LIVE, lease_id, id .. '\\n' .. reviewer)
  redis.call('HSET', K_ISSUED, lease_id, id .. '\\n' .. reviewer)
  redis.call('ZADD', K_EXPIRY, expires, lease_id)
  redis.call('HSET', K_HELD, id, lease_id)
  return lease_reply(lease_id, id, expires)
end

-- Unknown (1), another reviewer's (3), finished or expired (2); else nil.
local function check(lease_id, reviewer)
  local issued = redis.call('HGET', K_ISSUED, lease_id)
  if not issued then return {1, "unknown lease '" .. lease_id .. "'"} end
  local _, owner = split(issued)
  if owner ~= reviewer then
    return {3, "lease '" .. lease_id .. "' belongs to another reviewer"}
  end
  local done = redis.call('HGET', K_FINISHED, lease_id)
  if done then
    local e = cjson.decode(done)
    return {2, "lease '" .. lease_id .. "' was already used to label '" .. e['label']
               .. "' (event " .. e['event_id'] .. '); correct it by that event id'}
  end
  if redis.call('HEXISTS', K_LIVE, lease_id) == 0 then
    return {2, "lease '" .. lease_id .. "' expired or was given back; the item returned to "
               .. 'the queue: lease a new item'}
  end
  return nil
end
"""

# ARGV: id, request JSON, priority, votes needed
ENQUEUE = PRELUDE + """
local id = ARGV[1]
if redis.call('HSETNX', K_ITEMS, id, ARGV[2]) == 0 then
  return {0, 0}
end
local seq = redis.call('INCR', K_SEQ)
local member = string.format('%015d:', seq) .. id
redis.call('HSET', K_MEMBER, id, member)
redis.call('HSET', K_ENQ_AT, id, tostring(now))
redis.call('HSET', K_NEEDED, id, ARGV[4])
redis.call('ZADD', K_QUEUED, -tonumber(ARGV[3]), member)
redis.call('ZADD', K_BYAGE, now, id)
return {0, 1}
"""

# ARGV: reviewer, ttl_s, max leases (0: no cap), new lease id
LEASE = PRELUDE + """
reap()
local reviewer, ttl, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if cap > 0 then
  local mine, oldest, oldest_at = 0, nil, nil
  local live = redis.call('HGETALL', K_LIVE)
  for i = 1, #live, 2 do
    local id, owner = split(live[i + 1])
    if owner == reviewer then
      mine = mine + 1
      local at = tonumber(redis.call('ZSCORE', K_EXPIRY, live[i]))
      if oldest_at == nil or at < oldest_at then oldest, oldest_at = live[i], at end
    end
  end
  if mine >= cap then
    return lease_reply(oldest, split(redis.call('HGET', K_LIVE, oldest)), oldest_at)
  end
end
local start = 0
while true do
  local chunk = redis.call('ZRANGE', K_QUEUED, start, start + 99)
  if #chunk == 0 then
    return {0, false}
  end
  for _, member in ipairs(chunk) do
    local id = string.sub(member, 17)
    if redis.call('SISMEMBER', K_EXCLUDED, id .. '\\n' .. reviewer) == 0 then
      return grant(id, reviewer, ttl, ARGV[4])
    end
  end
  start = start + 100
end
"""

# ARGV: lease id, reviewer, ttl_s
HEARTBEAT = PRELUDE + """
reap()
local lease_id = ARGV[1]
local err = check(lease_id, ARGV[2])
if err then return err end
local expires = now + tonumber(ARGV[3])
redis.call('ZADD', K_EXPIRY, expires, lease_id)
return lease_reply(lease_id, split(redis.call('HGET', K_LIVE, lease_id)), expires)
"""

local_result = """
local function result(id, event, duplicate)
  local complete = redis.call('HEXISTS', K_DONE, id)
  return {0, event, duplicate, complete, redis.call('HGET', K_VOTES, id) or '[]',
          redis.call('HGET', K_CURRENT, id) or ''}
end
"""

# ARGV: lease id, reviewer, label, vote LabelEvent JSON (built by the caller from the item)
SUBMIT = PRELUDE + local_result + """
reap()
local lease_id, reviewer, label = ARGV[1], ARGV[2], ARGV[3]
local done = redis.call('HGET', K_FINISHED, lease_id)
local issued = redis.call('HGET', K_ISSUED, lease_id)
if done and issued then
  local id, owner = split(issued)
  if owner == reviewer and cjson.decode(done)['label'] == label then
    return result(id, done, 1)
  end
end
local err = check(lease_id, reviewer)
if err then return err end
local id = release(lease_id)
local event = ARGV[4]
redis.call('HSET', K_FINISHED, lease_id, event)
redis.call('HSET', K_EVENTS, cjson.decode(event)['event_id'], id)
redis.call('SADD', K_EXCLUDED, id .. '\\n' .. reviewer)
local all = votes(id)
table.insert(all, event)
redis.call('HSET', K_VOTES, id, cjson.encode(all))
local needed = tonumber(redis.call('HGET', K_NEEDED, id))
if #all >= needed then
  redis.call('HSET', K_DONE, id, 1)
  if needed == 1 then
    redis.call('HSET', K_CURRENT, id, event)
    outbox(id, event)
  end
else
  requeue(id)
end
return result(id, event, 0)
"""

# ARGV: lease id, reviewer
SKIP = PRELUDE + """
reap()
local lease_id, reviewer = ARGV[1], ARGV[2]
local err = check(lease_id, reviewer)
if err then return err end
local id = release(lease_id)
redis.call('SADD', K_EXCLUDED, id .. '\\n' .. reviewer)
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
return {0, redis.call('ZCARD', K_QUEUED), redis.call('HLEN', K_LIVE),
        redis.call('HLEN', K_DONE), age}
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
