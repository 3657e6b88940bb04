"""Label budget as a fraction of the stream, enforced over a sliding window of items.

The window holds the last ``window`` decisions. An item may be asked for while the labels
spent in the window stay within ``fraction * window``; so at any point in a long stream, no
``window`` consecutive items hold more than the budget. While the window is still filling, the
allowance is ``fraction * (items seen + warmup)``: ``warmup`` lets the very first items be
asked for (an untrained model needs labels; at 1% a warmup of 100 items is one label), without
handing a fresh stream a whole window's worth of labels up front.
"""

from __future__ import annotations

from collections import deque


class _Tally:
    """Items decided and labels asked since the start: what every budget meter counts."""

    _seen: int
    _asked: int

    @property
    def seen(self) -> int:
        return self._seen

    @property
    def asked(self) -> int:
        return self._asked


class SlidingBudget(_Tally):
    """Counts decisions in a ring of the last ``window`` items."""

    def __init__(self, fraction: float, window: int = 1000, warmup: int = 100) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"budget fraction must be in [0, 1], got {fraction}")
        if window < 1:
            raise ValueError(f"budget window must be >= 1, got {window}")
        self.fraction = fraction
        self.window = window
        self.warmup = warmup
        self._ring: deque[bool] = deque(maxlen=window)
        self._spent = 0
        self._seen = 0
        self._asked = 0

    def allows(self, scale: float = 1.0) -> bool:
        """Whether one more label fits in the window, with the budget scaled by ``scale``."""
        if self.fraction >= 1.0 and scale >= 1.0:
            return True
        # The item about to be recorded pushes the oldest one out of a full window.
        full = len(self._ring) == self.window
        leaving = 1 if full and self._ring[0] else 0
        span = self.window if full else min(self.window, len(self._ring) + 1 + self.warmup)
        return self._spent - leaving + 1 <= self.fraction * scale * span + 1e-9

    def record(self, asked: bool) -> None:
        if len(self._ring) == self.window and self._ring[0]:
            self._spent -= 1
        self._ring.append(asked)
        self._spent += int(asked)
        self._seen += 1
        self._asked += int(asked)

    @property
    def rate(self) -> float:
        """Labels per item over the current window (the query rate exported as a metric)."""
        return self._spent / len(self._ring) if self._ring else 0.0

    @property
    def spent(self) -> int:
        return self._spent

    def __repr__(self) -> str:
        return (f"SlidingBudget(fraction={self.fraction}, window={self.window}, "
                f"warmup={self.warmup})")


def budget_cap(fraction: float, seen: float, warmup: int, ramp: int) -> float:
    """``fraction * seen`` plus a warm-up allowance of ``fraction * warmup`` labels that
    shrinks linearly to nothing by item ``ramp`` (see ``Ledger``)."""
    left = max(0.0, 1.0 - seen / ramp) if ramp > 0 else 0.0
    return fraction * (seen + warmup * left)


class Ledger(_Tally):
    """The exact budget: labels asked never exceed ``fraction * items seen`` by a whole label
    (a label is asked once the budget has accrued part of it), plus a warm-up
    allowance of ``fraction * warmup`` labels that shrinks linearly to nothing over the first
    ``ramp`` items (default ``10 * warmup``).

    Cumulative since the start, whatever the rate did in between, so a user who sets 10% gets
    at most 10%. The allowance lets a fresh stream ask for its first items (cold start: an
    untrained model needs labels before the budget has accrued them); it is repaid by running
    somewhat below the budget until ``ramp``, never by stopping. The ledger also keeps the
    *target*: the labels a strategy should have asked by now at its (possibly scaled) rate,
    never more than the nominal budget allows, so queue pressure lowers it and a drift boost
    can only re-spend what was saved. ``deficit`` (target minus asked) is what
    budget-tracking strategies steer on.
    """

    def __init__(self, fraction: float, warmup: int = 100, ramp: int | None = None) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"budget fraction must be in [0, 1], got {fraction}")
        self.fraction = fraction
        self.warmup = warmup
        self.ramp = 10 * warmup if ramp is None else ramp
        self._seen = 0
        self._asked = 0
        self._target = 0.0

    def allows(self, allowance: bool = True) -> bool:
        """Whether one more label, on the item about to be recorded, stays within budget;
        without the warm-up ``allowance``, within ``fraction * items`` itself."""
        if self.fraction >= 1.0:
            return True
        # A label is whole: one may be asked once the budget has accrued any part of it, so
        # the spend is never more than one label ahead of fraction x items.
        return self._asked < self.cap(self._seen + 1, allowance) - 1e-9

    def cap(self, seen: int, allowance: bool = True) -> float:
        """The most labels allowed once ``seen`` items were decided."""
        return budget_cap(self.fraction, seen, self.warmup if allowance else 0, self.ramp)

    def record(self, asked: bool, rate: float | None = None) -> None:
        """One item decided; ``rate`` is the labels-per-item target for it (default: the
        nominal fraction)."""
        self._seen += 1
        self._asked += int(asked)
        step = self.fraction if rate is None else rate
        self._target = min(self._target + step, self.fraction * self._seen)

    @property
    def deficit(self) -> float:
        """Labels behind the target (negative: ahead of it, e.g. after cold start)."""
        return self._target - self._asked

    @property
    def spend(self) -> float:
        """Labels asked over the nominal budget of the items seen (1.0 = exactly the budget)."""
        return self._asked / (self.fraction * self._seen) if self._seen and self.fraction \
            else 0.0

    def __repr__(self) -> str:
        return f"Ledger(fraction={self.fraction}, warmup={self.warmup}, ramp={self.ramp})"
