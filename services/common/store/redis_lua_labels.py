"""Lua scripts for the Redis review queue, part two: consensus, corrections, re-scoring.

Same keys and conventions as store/redis_lua.py (its PRELUDE names them).
"""

from __future__ import annotations

from services.common.store.redis_lua import PRELUDE

# ARGV: item id, event JSON, event id
SET_CURRENT = PRELUDE + """
local id = ARGV[1]
if redis.call('HEXISTS', K_DONE, id) == 0 then
  return {2, "item '" .. id .. "' has not got all its votes"}
end
if redis.call('HSETNX', K_CURRENT, id, ARGV[2]) == 1 then outbox(id, ARGV[2]) end
local stored = redis.call('HGET', K_CURRENT, id)
redis.call('HSET', K_EVENTS, cjson.decode(stored)['event_id'], id)
return {0, stored}
"""

# ARGV: item id, votes seen, votes needed now, Rescore JSON with the boosted priority
REOPEN = PRELUDE + """
local id = ARGV[1]
if redis.call('HEXISTS', K_DONE, id) == 0 or redis.call('HEXISTS', K_CURRENT, id) == 1
    or #votes(id) ~= tonumber(ARGV[2]) then
  return {0, 0}
end
redis.call('HDEL', K_DONE, id)
redis.call('HSET', K_NEEDED, id, ARGV[3])
redis.call('HSET', K_RESCORED, id, ARGV[4])
requeue(id)
return {0, 1}
"""

# ARGV: event id, new event JSON or '' (undo), reviewer, ttl_s, new lease id,
#       the event for the labels topic if the label was published, or ''
REPLACE = PRELUDE + """
reap()
local event_id, new, reviewer, ttl, lease_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local id = redis.call('HGET', K_EVENTS, event_id)
if not id then return {1, "unknown label event '" .. event_id .. "'"} end
local current = redis.call('HGET', K_CURRENT, id)
local all = votes(id)
local new_id = ''
if new ~= '' then new_id = cjson.decode(new)['event_id'] end
if current and cjson.decode(current)['event_id'] == event_id then
  if ARGV[6] ~= '' then outbox(id, ARGV[6]) end
  if new ~= '' then
    redis.call('HSET', K_CURRENT, id, new)
    redis.call('HSET', K_EVENTS, new_id, id)
    return {0, false}
  end
  redis.call('HDEL', K_CURRENT, id)
  for _, vote in ipairs(all) do
    redis.call('SREM', K_EXCLUDED, id .. '\\n' .. cjson.decode(vote)['reviewer'])
  end
  redis.call('HDEL', K_VOTES, id)
else
  local at = nil
  if not current then
    for i, vote in ipairs(all) do
      if cjson.decode(vote)['event_id'] == event_id then at = i end
    end
  end
  if not at then
    local live = 'none yet'
    if current then live = cjson.decode(current)['event_id'] end
    return {2, "label event '" .. event_id .. "' is no longer the item's live label (live: "
               .. live .. ')'}
  end
  if new ~= '' then
    all[at] = new
    redis.call('HSET', K_VOTES, id, cjson.encode(all))
    redis.call('HSET', K_EVENTS, new_id, id)
    return {0, false}
  end
  local gone = cjson.decode(table.remove(all, at))
  redis.call('SREM', K_EXCLUDED, id .. '\\n' .. gone['reviewer'])
  if #all == 0 then redis.call('HDEL', K_VOTES, id)
  else redis.call('HSET', K_VOTES, id, cjson.encode(all)) end
end
redis.call('HDEL', K_DONE, id)
if redis.call('HEXISTS', K_HELD, id) == 1 then return {0, false} end
return grant(id, reviewer, tonumber(ttl), lease_id)
"""

# ARGV: limit
QUEUED = PRELUDE + """
reap()
local out = {0}
for _, member in ipairs(redis.call('ZRANGE', K_QUEUED, 0, tonumber(ARGV[1]) - 1)) do
  local id = string.sub(member, 17)
  table.insert(out, redis.call('HGET', K_ITEMS, id))
  table.insert(out, redis.call('HGET', K_RESCORED, id) or '')
end
return out
"""

# ARGV: pairs of item id, Rescore JSON
RESCORE = PRELUDE + """
local n = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HEXISTS', K_ITEMS, id) == 1 and redis.call('HEXISTS', K_DONE, id) == 0 then
    redis.call('HSET', K_RESCORED, id, ARGV[i + 1])
    local member = redis.call('HGET', K_MEMBER, id)
    if redis.call('ZSCORE', K_QUEUED, member) then
      redis.call('ZADD', K_QUEUED, -tonumber(cjson.decode(ARGV[i + 1])['priority']), member)
    end
    n = n + 1
  end
end
return {0, n}
"""
