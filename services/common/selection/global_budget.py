"""One exact label budget for all scorer processes, kept in the shared store.

Three counters per group (``KeyValue`` keys under ``prefix``): items ``seen``, labels
``asked`` and labels ``forfeit``. A label may be asked for while
``asked + forfeit < budget_cap(fraction, seen, warmup, ramp)`` (services/common/selection/
budget.py: ``fraction * seen`` plus a warm-up allowance that shrinks to nothing over the first
``ramp`` items; a label is whole, so the spend may run up to one label ahead). So the
group's labels never exceed the budget of the items it scored, whatever each process does,
and audit labels count like any other (refused too when the budget is spent, which is
content-independent and keeps the audit sample uniform).

``seen`` is flushed every ``flush_every`` items per process, so other processes' latest items
may not be counted yet: that only makes the check stricter. Savings are banked up to
``bank_items`` items' worth of budget; beyond that they are forfeit, so a group that was idle
or under queue pressure for a day cannot then spend a day's labels in a burst.

``acquire`` increments first and rolls back on refusal, so two processes racing for the last
slot cannot both win.
"""

from __future__ import annotations

import asyncio

from services.common.selection.budget import budget_cap
from services.common.store.base import KeyValue


class GlobalBudget:
    def __init__(self, kv: KeyValue, fraction: float, warmup: int = 100,
                 ramp: int | None = None, bank_items: int = 1000,
                 prefix: str = "selection:budget:", flush_every: int = 50) -> None:
        self.fraction = fraction
        self.warmup = warmup
        self.ramp = 10 * warmup if ramp is None else ramp
        self.bank_items = bank_items
        self.prefix = prefix
        self.flush_every = flush_every
        self._kv = kv
        self._unflushed = 0

    def _key(self, what: str) -> str:
        return f"{self.prefix}{what}"

    async def _get(self, what: str) -> float:
        raw = await self._kv.get(self._key(what))
        return float(raw) if raw else 0.0

    async def _flush(self) -> None:
        if self._unflushed:
            await self._kv.incr(self._key("seen"), self._unflushed)
            self._unflushed = 0

    async def note_seen(self, n: int = 1) -> None:
        """Count scored items; flushed to the store every ``flush_every`` to spare round trips."""
        self._unflushed += n
        if self._unflushed >= self.flush_every:
            await self._flush()

    async def acquire(self) -> bool:
        """Reserve one label for the group; False when the group's budget is spent."""
        await self._flush()
        asked = await self._kv.incr(self._key("asked"), 1.0)
        # Both read after the increment, in one round trip's time: this runs per asked item
        # inside the scorer's batch loop.
        seen, forfeit = await asyncio.gather(self._get("seen"), self._get("forfeit"))
        # As the Ledger: a label may be granted once the budget accrued any part of it.
        granted = asked - 1 + forfeit < budget_cap(self.fraction, seen, self.warmup, self.ramp) \
            - 1e-9
        if not granted:
            await self._kv.incr(self._key("asked"), -1.0)
            asked -= 1
        bank = self.fraction * seen - asked - forfeit - self.fraction * self.bank_items
        if bank >= 1.0:  # savings beyond the bank are forfeit (a race only forfeits more)
            await self._kv.incr(self._key("forfeit"), float(int(bank)))
        return granted

    async def counts(self) -> dict[str, float]:
        """The group's counters: items seen, labels asked and forfeit."""
        await self._flush()
        return {w: await self._get(w) for w in ("seen", "asked", "forfeit")}

    async def rate(self) -> float:
        """The group's labels per item since the start (for the budget metric)."""
        c = await self.counts()
        return c["asked"] / c["seen"] if c["seen"] > 0 else 0.0
