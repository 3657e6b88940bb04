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


class SlidingBudget:
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

    @property
    def seen(self) -> int:
        return self._seen

    @property
    def asked(self) -> int:
        return self._asked

    def __repr__(self) -> str:
        return (f"SlidingBudget(fraction={self.fraction}, window={self.window}, "
                f"warmup={self.warmup})")
