"""The selection contract: ``ask(probabilities, context) -> (bool, reason)`` and ``learn``.

A strategy sees each scored item once, in stream order, and decides whether a human should
label it. Strategies are River-style: parameters are public attributes set in ``__init__``,
state is private (underscore) and everything pickles, so a scorer can checkpoint its selector.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.common.schemas import Reason

Probabilities = Mapping[str, float]
Decision = tuple[bool, Reason | None]


@dataclass(slots=True)
class Context:
    """What a strategy may know about the item besides the model's probabilities.

    ``x`` is the item's embedding (unit-norm), used by the committee, the diversity rule and
    the drift monitor. ``n_learned`` is how many labels the model behind ``probabilities`` has
    learned (the scorer's current model version), which drives cold start.
    """

    x: Sequence[float] | np.ndarray | None = None
    n_learned: int = 0
    n_classes: int = 0


def calibrates(reason: Reason | None) -> bool:
    """Whether a label with this routing reason is a fair sample for fitting the model's
    confidence: uniform picks (audit, random), cold start's spread-out picks and labels that
    were never routed (None) are; labels asked for because the model was unsure are not."""
    return reason in (None, Reason.AUDIT, Reason.COLD_START)


def scored_context(x: Sequence[float] | np.ndarray | None, probabilities: Probabilities,
                   n_learned: int) -> Context:
    """The context the scorer gives a strategy for an item scored by a model that learned
    ``n_learned`` labels (none without a prediction); the evaluation replays the same."""
    return Context(x=x, n_learned=n_learned if probabilities else 0,
                   n_classes=len(probabilities))


@dataclass(slots=True)
class Outcome:
    """A label that came back for an item this strategy (or the audit) sent to review."""

    x: Sequence[float] | np.ndarray | None
    label: str
    predicted: str | None = None
    reason: Reason | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Strategy(ABC):
    """Decides per item; ``learn`` receives the labels that come back (possibly late)."""

    #: What the default reason of a positive decision is.
    reason: Reason = Reason.UNCERTAINTY

    @abstractmethod
    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        """(True, reason) to send the item to a human; (False, None) otherwise."""

    def learn(self, outcome: Outcome) -> None:  # noqa: B027 - most strategies learn nothing
        """Take a returned label into account."""

    @property
    def stats(self) -> dict[str, float]:
        """Numbers worth exporting as metrics (threshold, query rate...)."""
        return {}

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_")
        )
        return f"{type(self).__name__}({params})"


class Seeded:
    """Mixin: a private ``random.Random`` from a public ``seed``; pickles with its state."""

    seed: int | None

    def _init_rng(self) -> None:
        self._rng = random.Random(self.seed)


def top_two(probabilities: Probabilities) -> tuple[float, float]:
    """The largest and second-largest probability (0 for a missing second class)."""
    first = second = 0.0
    for p in probabilities.values():
        if p > first:
            first, second = p, first
        elif p > second:
            second = p
    return first, second
