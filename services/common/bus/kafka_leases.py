"""Consumer-group membership through partition leases in Redis, with offsets still in Kafka.

Kafka's group protocol is the right choice on a real cluster. Some Kafka-compatible brokers get
crashed members wrong: noida-db 0.2.3 never expires a member that was killed while its group was
stable, and when a dead *leader* is dropped during a rebalance the group stays without a leader
for good (see docs/production.md). With ``kafka_assignment=leases`` the bus does not join broker
groups at all; members coordinate through Redis instead:

- every member heartbeats into a sorted set ``<prefix>bus:<group>:members`` (score = last seen,
  server time); members silent for longer than the TTL are dropped;
- the live members, sorted, split the partitions round-robin (the same rule for everyone);
- a member reads a partition only while it holds that partition's lease (SET NX PX, renewed on
  every heartbeat), so two members never read one partition at the same time. A partition that
  should move is released only after the batch in hand is committed; a crashed member's leases
  simply expire after the TTL;
- offsets are committed to Kafka under the group id (the "simple consumer" commit, no
  generation), so the Kafka tooling still shows the group's lag.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] members zset. ARGV: member, ttl_ms, lease key prefix, then every partition "topic:p".
# Returns {held-and-wanted..., "|", held-but-not-wanted...}.
SYNC = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member, ttl = ARGV[1], tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, member)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 10)
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(live)
local index = 0
for i, m in ipairs(live) do
  if m == member then index = i - 1 end
end
local wanted, unwanted = {}, {}
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  local owner = redis.call('GET', key)
  local mine = ((i - 4) % #live) == index
  if owner == member then
    redis.call('PEXPIRE', key, ttl)
    if mine then table.insert(wanted, ARGV[i]) else table.insert(unwanted, ARGV[i]) end
  elseif mine and not owner then
    redis.call('SET', key, member, 'PX', ttl)
    table.insert(wanted, ARGV[i])
  end
end
table.insert(wanted, '|')
for _, tp in ipairs(unwanted) do table.insert(wanted, tp) end
return wanted
"""

# KEYS: the lease keys to release; ARGV[1]: member (only its own leases are deleted).
RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""

# KEYS[1] members zset; ARGV[1] member.
LEAVE = "return redis.call('ZREM', KEYS[1], ARGV[1])"


def encode_tp(tp: tuple[str, int]) -> str:
    return f"{tp[0]}:{tp[1]}"


def decode_tp(raw: bytes | str) -> tuple[str, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    topic, _, partition = text.rpartition(":")
    return topic, int(partition)


@dataclass(frozen=True)
class LeaseView:
    held: set[tuple[str, int]]  # leases we hold and should keep
    release: set[tuple[str, int]]  # leases we hold but another member should have now


class PartitionLeases:
    """One member's view of its group's leases; all changes are single Lua scripts."""

    def __init__(
        self, client: Redis, prefix: str, group: str, member: str, ttl_ms: int
    ) -> None:
        self.member = member
        self.ttl_ms = ttl_ms
        self._members_key = f"{prefix}bus:{group}:members"
        self._lease_prefix = f"{prefix}bus:{group}:lease:"
        self._sync = client.register_script(SYNC)
        self._release = client.register_script(RELEASE)
        self._leave = client.register_script(LEAVE)

    async def sync(self, partitions: list[tuple[str, int]]) -> LeaseView:
        """Heartbeat, renew what we hold, take free partitions that are ours by the rule."""
        reply = await self._sync(
            keys=[self._members_key],
            args=[self.member, self.ttl_ms, self._lease_prefix,
                  *(encode_tp(tp) for tp in sorted(partitions))],
        )
        items = [r.decode() if isinstance(r, bytes) else r for r in reply]
        cut = items.index("|")
        held = {decode_tp(x) for x in items[:cut]}
        return LeaseView(held, {decode_tp(x) for x in items[cut + 1 :]})

    async def release(self, partitions: set[tuple[str, int]]) -> None:
        if partitions:
            keys = [self._lease_prefix + encode_tp(tp) for tp in sorted(partitions)]
            await self._release(keys=keys, args=[self.member])

    async def leave(self, partitions: set[tuple[str, int]]) -> None:
        await self.release(partitions)
        await self._leave(keys=[self._members_key], args=[self.member])
