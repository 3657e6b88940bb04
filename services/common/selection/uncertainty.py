"""Uncertainty measures: probabilities in, a score in [0, 1] out (1 = most uncertain).

All are normalized by the number of classes the model knows, so one threshold or quantile
means the same thing for 2 and for 20 classes. An empty prediction (an untrained model) is
maximally uncertain, and so is a model that knows a single class (it is "certain" of the only
label it has seen): that is what lets a strategy ask while untrained.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from services.common.schemas import Reason
from services.common.selection.base import Context, Outcome, Probabilities, top_two


class Measure(ABC):
    name: str = ""
    #: The reason an item chosen by this measure is routed with.
    reason: Reason = Reason.UNCERTAINTY

    @abstractmethod
    def __call__(self, probabilities: Probabilities) -> float: ...

    def score(self, probabilities: Probabilities, context: Context | None) -> float:
        """Measures that need more than the probabilities (a committee) override this."""
        return self(probabilities)

    def informative(self, probabilities: Probabilities) -> bool:
        """Whether scores rank items at all: without a model (or with one class) every item
        scores 1, which says nothing about which item is worth more."""
        return len(probabilities) >= 2

    def learn(self, outcome: Outcome) -> None:  # noqa: B027 - stateless by default
        """Measures with their own models (a committee) learn returned labels here."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LeastConfidence(Measure):
    """``1 - max p``, rescaled so a uniform prediction over k classes scores 1."""

    name = "least_confidence"

    def __call__(self, probabilities: Probabilities) -> float:
        k = len(probabilities)
        if k < 2:
            return 1.0  # no prediction, or a model that knows one class: it knows nothing
        top = max(probabilities.values())
        return min(1.0, max(0.0, (1.0 - top) / (1.0 - 1.0 / k)))


class Margin(Measure):
    """``1 - (p1 - p2)``. Ties in the margin are broken by the normalized entropy (scaled by
    ``tie_weight``), so among items with the same top-2 gap the one whose remaining mass is
    more spread out ranks first, instead of an arbitrary order."""

    name = "margin"

    def __init__(self, tie_weight: float = 1e-3) -> None:
        self.tie_weight = tie_weight

    def __call__(self, probabilities: Probabilities) -> float:
        k = len(probabilities)
        if k < 2:
            return 1.0  # no prediction, or a model that knows one class: it knows nothing
        first, second = top_two(probabilities)
        base = 1.0 - (first - second)
        tie = Entropy()(probabilities)
        return min(1.0, max(0.0, (base + self.tie_weight * tie) / (1.0 + self.tie_weight)))

    def __repr__(self) -> str:
        return f"Margin(tie_weight={self.tie_weight})"


class Entropy(Measure):
    """Shannon entropy divided by ``log k``."""

    name = "entropy"

    def __call__(self, probabilities: Probabilities) -> float:
        k = len(probabilities)
        if k < 2:
            return 1.0  # no prediction, or a model that knows one class: it knows nothing
        h = -sum(p * math.log(p) for p in probabilities.values() if p > 0)
        return min(1.0, max(0.0, h / math.log(k)))


MEASURES: dict[str, type[Measure]] = {
    m.name: m for m in (LeastConfidence, Margin, Entropy)
}


def make_measure(name: str) -> Measure:
    try:
        return MEASURES[name]()
    except KeyError:
        known = sorted(MEASURES)
        raise ValueError(f"unknown uncertainty measure {name!r}; known: {known}") from None
