"""One label budget for all scorer processes, kept in the shared store.

Counters live in ``KeyValue`` keys per time window (``window_s``), created with a TTL so old
windows expire by themselves. The group's rate is estimated over a sliding window by weighting
the previous window by how much of it still overlaps (the usual sliding-window-counter
approximation). An item may be asked for while ``asked + 1 <= fraction * (seen + warmup)``;
``warmup`` lets a fresh group ask for its very first items (cold start) without being handed a
large allowance up front.

``acquire`` increments first and rolls back on refusal, so two processes racing for the last
slot cannot both win.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from services.common.store.base import KeyValue

Clock = Callable[[], float]


class GlobalBudget:
    def __init__(self, kv: KeyValue, fraction: float, window_s: float = 3600.0,
                 warmup: int = 100, prefix: str = "selection:budget:", flush_every: int = 50,
                 clock: Clock = time.time) -> None:
        self.fraction = fraction
        self.window_s = window_s
        self.warmup = warmup
        self.prefix = prefix
        self.flush_every = flush_every
        self._kv = kv
        self._clock = clock
        self._unflushed = 0
        self._last: dict[str, float] = {"seen": 0.0, "asked": 0.0}

    def _key(self, window: int, what: str) -> str:
        return f"{self.prefix}{window}:{what}"

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        index = math.floor(now / self.window_s)
        return index, (now - index * self.window_s) / self.window_s

    async def _get(self, key: str) -> float:
        raw = await self._kv.get(key)
        return float(raw) if raw else 0.0

    async def _flush(self) -> None:
        if self._unflushed:
            index, _ = self._window()
            await self._kv.incr(self._key(index, "seen"), self._unflushed, ttl_s=2 * self.window_s)
            self._unflushed = 0

    async def note_seen(self, n: int = 1) -> None:
        """Count scored items; flushed to the store every ``flush_every`` to spare round trips."""
        self._unflushed += n
        if self._unflushed >= self.flush_every:
            await self._flush()

    async def _estimate(self, asked_now: float | None = None) -> tuple[float, float]:
        index, elapsed = self._window()
        prev_weight = 1.0 - elapsed
        seen = await self._get(self._key(index, "seen"))
        asked = asked_now if asked_now is not None else await self._get(self._key(index, "asked"))
        if prev_weight > 0:
            seen += prev_weight * await self._get(self._key(index - 1, "seen"))
            asked += prev_weight * await self._get(self._key(index - 1, "asked"))
        self._last = {"seen": seen, "asked": asked}
        return seen, asked

    async def acquire(self, scale: float = 1.0, force: bool = False) -> bool:
        """Reserve one label for the group; ``force`` (audit) always counts but is never refused."""
        await self._flush()
        index, _ = self._window()
        key = self._key(index, "asked")
        asked_now = await self._kv.incr(key, 1.0, ttl_s=2 * self.window_s)
        if force:
            return True
        seen, asked = await self._estimate(asked_now)
        if asked <= self.fraction * scale * (seen + self.warmup) + 1e-9:
            return True
        await self._kv.incr(key, -1.0, ttl_s=2 * self.window_s)
        self._last["asked"] -= 1.0
        return False

    async def rate(self) -> float:
        """The group's labels per item over the sliding window (for the budget metric)."""
        await self._flush()
        seen, asked = await self._estimate()
        return asked / seen if seen > 0 else 0.0
