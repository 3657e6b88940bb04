"""Strategies by name, so settings and the evaluation CLI choose them with a string."""

from __future__ import annotations

from collections.abc import Callable

from services.common.selection.base import Strategy
from services.common.selection.coldstart import DiversityColdStart
from services.common.selection.committee import Committee
from services.common.selection.drift import DriftMonitor
from services.common.selection.peer import EntropySamplerStrategy
from services.common.selection.quantile import QuantileUncertainty
from services.common.selection.selector import DEFAULT_AUDIT_SHARE, Selector
from services.common.selection.strategies import (
    FixedThreshold,
    FullSupervision,
    RandomizedVariableUncertainty,
    RandomSampling,
    Split,
    VariableUncertainty,
)
from services.common.selection.uncertainty import Entropy, LeastConfidence, Margin

# (budget, seed, audit_share): only the selectors use the audit share.
Factory = Callable[[float, int | None, float], Strategy]


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed * 1000 + offset


def build_selector(budget: float, seed: int | None = None, *,
                   audit_share: float = DEFAULT_AUDIT_SHARE, drift: bool = True,
                   cold_start: bool = False, measure: str = "margin",
                   explore: float = 0.0, cold_labels: int = 20, cold_per_class: int = 2,
                   ) -> Selector:
    """The scorer's selector: quantile-thresholded uncertainty inside audit and drift
    coupling. While no model exists it asks for the first items as the budget allows (tagged
    ``cold_start``); ``cold_start=True`` adds the diversity cold start instead, which keeps
    picking by novelty until ``cold_labels`` (and ``cold_per_class`` per known class) are
    learned: measured worse in the service-like replay (docs/evaluation.md). ``measure``:
    margin, entropy, least_confidence or committee. ``explore`` > 0 spends that share of the
    budget on uniformly random items (``Split``)."""
    m = {"margin": Margin, "entropy": Entropy, "least_confidence": LeastConfidence}.get(measure)
    chosen = m() if m is not None else Committee(seed=_seed(seed, 3)) if measure == "committee" \
        else None
    if chosen is None:
        raise ValueError(f"unknown measure {measure!r}")
    base = QuantileUncertainty(budget, chosen, seed=_seed(seed, 1))
    return Selector(
        Split(base, random_share=explore, seed=_seed(seed, 4)) if explore > 0 else base,
        audit_share=audit_share,
        cold_start=DiversityColdStart(budget, min_labels=cold_labels, per_class=cold_per_class,
                                      seed=_seed(seed, 2)) if cold_start else None,
        drift=DriftMonitor() if drift else None,
        seed=seed,
    )


STRATEGIES: dict[str, Factory] = {
    "selector": lambda b, s, a: build_selector(b, s, audit_share=a),
    "selector_nodrift": lambda b, s, a: build_selector(b, s, audit_share=a, drift=False),
    "selector_diverse_cold": lambda b, s, a: build_selector(b, s, audit_share=a,
                                                           cold_start=True),
    "selector_explore": lambda b, s, a: build_selector(b, s, audit_share=a, explore=0.25),
    "selector_committee": lambda b, s, a: build_selector(b, s, audit_share=a,
                                                        measure="committee"),
    "random": lambda b, s, a: RandomSampling(b, seed=s),
    "full": lambda b, s, a: FullSupervision(seed=s),
    "entropy_sampler": lambda b, s, a: EntropySamplerStrategy(b, seed=s),
    "fixed": lambda b, s, a: FixedThreshold(b, LeastConfidence(), threshold=0.5, seed=s),
    "vu": lambda b, s, a: VariableUncertainty(b, LeastConfidence(), seed=s),
    "rvu": lambda b, s, a: RandomizedVariableUncertainty(b, LeastConfidence(), seed=s),
    "split": lambda b, s, a: Split(VariableUncertainty(b, LeastConfidence(), seed=_seed(s, 1)),
                                random_share=0.2, seed=_seed(s, 2)),
    "quantile_margin": lambda b, s, a: QuantileUncertainty(b, Margin(), seed=s),
    "quantile_entropy": lambda b, s, a: QuantileUncertainty(b, Entropy(), seed=s),
    "quantile_lc": lambda b, s, a: QuantileUncertainty(b, LeastConfidence(), seed=s),
    "quantile_margin_rand": lambda b, s, a: QuantileUncertainty(b, Margin(), randomize=0.3, seed=s),
    "committee": lambda b, s, a: QuantileUncertainty(b, Committee(seed=_seed(s, 3)), seed=s),
}

#: What the scorer runs unless configured otherwise (chosen from docs/evaluation.md).
DEFAULT_STRATEGY = "selector"


def strategy_names() -> list[str]:
    return ["default", *STRATEGIES]


def make_strategy(name: str, budget: float, seed: int | None = None, *,
                  audit_share: float = DEFAULT_AUDIT_SHARE) -> Strategy:
    key = DEFAULT_STRATEGY if name == "default" else name
    try:
        factory = STRATEGIES[key]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {strategy_names()}") from None
    return factory(budget, seed, audit_share)
