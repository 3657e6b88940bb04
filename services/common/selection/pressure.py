"""Queue-aware selection: do not hand humans items nobody will reach.

Reviewer throughput is measured from label events (labels per second over a sliding time
window). The queue's backlog in seconds is ``depth / throughput``. While that exceeds
``horizon_s`` the budget is scaled down by ``horizon_s / backlog`` (never below ``min_scale``),
which raises the effective uncertainty threshold: only the most useful items still go in.
As reviewers drain the queue the backlog shrinks and the scale returns to 1.
"""

from __future__ import annotations

from collections import deque


class QueuePressure:
    def __init__(self, horizon_s: float = 900.0, min_scale: float = 0.05, min_depth: int = 50,
                 rate_window_s: float = 900.0) -> None:
        self.horizon_s = horizon_s
        self.min_scale = min_scale
        self.min_depth = min_depth
        self.rate_window_s = rate_window_s
        self._labels: deque[float] = deque()
        self._first_seen: float | None = None
        self._now = 0.0
        self._depth = 0
        self._prev: tuple[float, int] | None = None
        self._growth = 0.0  # items per second, smoothed

    def _trim(self, now: float) -> None:
        while self._labels and self._labels[0] < now - self.rate_window_s:
            self._labels.popleft()

    def observe_label(self, at: float) -> None:
        """One label was submitted at unix time ``at``."""
        self._labels.append(at)
        self._now = max(self._now, at)
        if self._first_seen is None:
            self._first_seen = at
        self._trim(self._now)

    def observe_depth(self, depth: int, at: float) -> None:
        """The review queue held ``depth`` waiting items at time ``at``."""
        if self._first_seen is None:
            self._first_seen = at
        if self._prev is not None and at > self._prev[0]:
            rate = (depth - self._prev[1]) / (at - self._prev[0])
            self._growth = 0.7 * self._growth + 0.3 * rate
        self._prev = (at, depth)
        self._depth = depth
        self._now = max(self._now, at)
        self._trim(self._now)

    @property
    def throughput(self) -> float:
        """Labels per second over the last ``rate_window_s`` (or since we started watching)."""
        if self._first_seen is None:
            return 0.0
        span = min(self.rate_window_s, max(self._now - self._first_seen, 1.0))
        return len(self._labels) / span

    @property
    def growth(self) -> float:
        return self._growth

    @property
    def backlog_s(self) -> float:
        if self._depth <= 0:
            return 0.0
        rate = self.throughput
        return self._depth / rate if rate > 0 else float("inf")

    def scale(self) -> float:
        """Budget multiplier in [min_scale, 1]."""
        if self._depth <= self.min_depth:
            return 1.0
        backlog = self.backlog_s
        if backlog <= self.horizon_s:
            return 1.0
        return max(self.min_scale, self.horizon_s / backlog)

    def __repr__(self) -> str:
        return (f"QueuePressure(horizon_s={self.horizon_s}, min_scale={self.min_scale}, "
                f"min_depth={self.min_depth})")
