"""The store's key-value space on Redis: marks, counters, sets, and a compare-and-set.

Keys live under ``<prefix>kv:``. The multi-step operations are Lua scripts, so each is one
atomic step on the server: ``compare_and_set`` (a read-modify-write that cannot lose a
concurrent write, the label set's state: services/common/labels.py) and ``transfer`` (a counter
moved to another key, never twice).
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.store import redis_lua
from services.common.store.base import KeyValue
from services.common.store.redis_guard import guarded, text

# A Lua function, shared with the outbox's ADD script (store/redis_outbox.py): does ``key`` hold
# what ``want`` says? ``want`` is ``expected_arg``'s encoding: '!' absent, '=' .. value.
HOLDS = """
local function holds(key, want)
  local have = redis.call('GET', key)
  if want == '!' then return not have end
  return have ~= false and '=' .. have == want
end
"""

# KEYS: key; ARGV: expected (see HOLDS), new value
COMPARE_AND_SET = HOLDS + """
if not holds(KEYS[1], ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# KEYS: src, dst. The amount moved, as a string (INCRBYFLOAT's own format).
TRANSFER = """
local amount = redis.call('GET', KEYS[1])
if not amount then return '0' end
redis.call('DEL', KEYS[1])
redis.call('INCRBYFLOAT', KEYS[2], amount)
return amount
"""


def expected_arg(value: bytes | None) -> bytes:
    """An expected value as a script argument: absent and empty must differ."""
    return b"!" if value is None else b"=" + value


class RedisKeyValue(KeyValue):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}kv:"
        self._incr = client.register_script(redis_lua.INCR)
        self._cas = client.register_script(COMPARE_AND_SET)
        self._transfer = client.register_script(TRANSFER)

    def _key(self, key: str) -> str:
        return self._prefix + key

    @staticmethod
    def _ms(ttl_s: float | None) -> int | None:
        return None if ttl_s is None else max(1, int(ttl_s * 1000))

    @guarded
    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._key(key))
        return None if value is None else bytes(value)  # type: ignore[arg-type]

    @guarded
    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        await self._client.set(self._key(key), value, px=self._ms(ttl_s))

    @guarded
    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        return bool(await self._client.set(self._key(key), value, px=self._ms(ttl_s), nx=True))

    @guarded
    async def compare_and_set(self, key: str, expected: bytes | None, value: bytes) -> bool:
        out = await self._cas(keys=[self._key(key)], args=[expected_arg(expected), value])
        return bool(int(out))

    @guarded
    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        ms = self._ms(ttl_s)
        out = await self._incr(keys=[self._key(key)], args=[repr(float(amount)), ms or ""])
        return float(out)

    @guarded
    async def transfer(self, src: str, dst: str) -> float:
        return float(await self._transfer(keys=[self._key(src), self._key(dst)], args=[]))

    @guarded
    async def delete(self, key: str) -> None:
        await self._client.delete(self._key(key))

    @guarded
    async def add_members(self, key: str, *members: str) -> int:
        return int(await self._client.sadd(self._key(key), *members))  # type: ignore[misc]

    @guarded
    async def members(self, key: str) -> frozenset[str]:
        found = await self._client.smembers(self._key(key))  # type: ignore[misc]
        return frozenset(text(m) for m in found)
