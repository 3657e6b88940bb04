"""Drift coupling: a River detector on the prequential error of returned labels and another on
the served confidence; a detected drift in the bad direction (error up, confidence down)
raises the query rate by ``boost`` for the next ``duration`` items.

A learning model's error falls and its confidence rises: both are changes too, and detectors
fire on them. Only the harmful direction counts, read from the detector's own estimate before
and after it cut its window (ADWIN) or from a one-sided test (Page-Hinkley ``mode``).
"""

from __future__ import annotations

import logging

from river import drift

log = logging.getLogger(__name__)


def _detector(
    kind: str, delta: float, harmful: str, clock: int
) -> drift.ADWIN | drift.PageHinkley:
    if kind == "adwin":
        return drift.ADWIN(delta=delta, clock=clock)
    if kind == "page_hinkley":
        return drift.PageHinkley(delta=delta, mode=harmful)
    raise ValueError(f"unknown drift detector {kind!r}; expected 'adwin' or 'page_hinkley'")


class _OneSided:
    """A detector on one signal that only reports changes in the ``harmful`` direction."""

    def __init__(self, kind: str, delta: float, harmful: str, clock: int = 32) -> None:
        self.kind = kind
        self.harmful = harmful  # "up" or "down"
        self._det = _detector(kind, delta, harmful, clock)

    def update(self, value: float) -> bool:
        before = getattr(self._det, "estimation", None)
        self._det.update(value)
        if not self._det.drift_detected:
            return False
        if self.kind != "adwin" or before is None:
            return True
        after = getattr(self._det, "estimation", before)  # ADWIN's kept (recent) window mean
        return after > before if self.harmful == "up" else after < before


class DriftMonitor:
    """Feed ``update_error`` (0/1 per returned label) and ``update_confidence`` (per scored
    item); read ``boost_factor`` before each decision and call ``tick`` after it."""

    def __init__(
        self,
        detector: str = "adwin",
        delta: float = 0.01,
        confidence_delta: float = 0.0002,
        boost: float = 2.0,
        duration: int = 500,
        on_error: bool = True,
        on_confidence: bool = True,
        min_labels: int = 100,
    ) -> None:
        self.detector = detector
        self.delta = delta
        self.confidence_delta = confidence_delta
        self.boost = boost
        self.duration = duration
        self.on_error = on_error
        self.on_confidence = on_confidence
        self.min_labels = min_labels
        # Labels are few (a budget's worth), so the error detector checks after every one and
        # uses a looser delta (ADWIN at 0.002 needs ~45 labels to see 10% -> 60% error, at
        # 0.01 ~33). Confidence comes with every scored item (check every 32) but also moves
        # while the model learns and its temperature settles: a strict delta keeps that from
        # firing on stationary streams (docs/evaluation.md), and a real drift still does.
        self._error = _OneSided(detector, delta, "up", clock=1)
        self._confidence = _OneSided(detector, confidence_delta, "down", clock=32)
        self._remaining = 0
        self._labels = 0
        self._events = {"error": 0, "confidence": 0}

    def _fire(self, source: str) -> None:
        self._events[source] += 1
        self._remaining = self.duration
        log.info("drift detected on %s: query rate x%.1f for %d items", source, self.boost,
                 self.duration)

    def update_error(self, error: float) -> bool:
        self._labels += 1
        if not self.on_error:
            return False
        # Early labels train a model that is still learning fast: its error changes for
        # reasons that are not drift, so wait for a few before trusting the detector.
        if self._error.update(error) and self._labels >= self.min_labels:
            self._fire("error")
            return True
        return False

    def update_confidence(self, confidence: float) -> bool:
        if not self.on_confidence or self._labels < self.min_labels:
            return False
        if self._confidence.update(confidence):
            self._fire("confidence")
            return True
        return False

    def tick(self) -> None:
        if self._remaining > 0:
            self._remaining -= 1

    @property
    def active(self) -> bool:
        return self._remaining > 0

    @property
    def boost_factor(self) -> float:
        return self.boost if self._remaining > 0 else 1.0

    @property
    def events(self) -> dict[str, int]:
        return dict(self._events)

    def __repr__(self) -> str:
        return (f"DriftMonitor(detector={self.detector!r}, delta={self.delta}, boost={self.boost}, "
                f"duration={self.duration})")
