from __future__ import annotations

import numpy as np
import pytest

from services.common.selection import Context
from services.common.selection.registry import build_selector
from services.common.selection.selector import audit_cap


def probabilities(rng: np.random.Generator, k: int) -> dict[str, float]:
    p = rng.dirichlet(np.ones(k) * 0.5)
    return {f"c{i}": float(v) for i, v in enumerate(p)}


def audits(k: int, budget: float = 0.02, n: int = 60000) -> tuple[int, int]:
    """(audit labels, all labels) a selector asks on ``n`` items of a ``k``-class model."""
    selector = build_selector(budget, seed=0)  # audit share 2.5 %: the cap binds at 2 %
    rng = np.random.default_rng(k)
    asked = sum(selector.ask(probabilities(rng, k), Context(x=None, n_learned=500))[0]
                for _ in range(n))
    assert selector.stats["audit_share"] == pytest.approx(budget * audit_cap(k))
    return selector.reasons.get("audit", 0), asked


def test_audit_takes_a_quarter_of_a_small_budget_for_two_classes_and_half_from_three():
    assert (audit_cap(2), audit_cap(3), audit_cap(20)) == (0.25, 0.5, 0.5)
    n = 60000
    two, asked_two = audits(2, n=n)
    three, asked_three = audits(3, n=n)
    # Draws that land on a spent budget are refused, so fewer than the share; never more
    # (the binomial sd of the count is sqrt(n * rate): 17 and 24).
    assert 0.6 * 300 < two < 300 + 4 * 17
    assert 0.6 * 600 < three < 600 + 4 * 24
    assert 1.6 < three / two < 2.4
    # The selective part spends the rest: the total stays within the budget.
    assert max(asked_two, asked_three) <= 0.02 * n + 1


def test_audit_rate_follows_the_served_model_when_classes_arrive():
    selector = build_selector(0.02, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(100):
        selector.ask(probabilities(rng, 2), Context(x=None, n_learned=50))
    assert selector.stats["audit_share"] == pytest.approx(0.005)
    selector.ask(probabilities(rng, 3), Context(x=None, n_learned=60))
    assert selector.stats["audit_share"] == pytest.approx(0.01)


def test_an_explicit_audit_share_below_the_cap_is_kept():
    selector = build_selector(0.1, seed=0, audit_share=0.01)
    selector.ask({"a": 0.5, "b": 0.3, "c": 0.2}, Context(x=None, n_learned=500))
    assert selector.stats["audit_share"] == pytest.approx(0.01)
