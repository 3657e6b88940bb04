from __future__ import annotations

import random

from services.common.schemas import Reason
from services.common.selection import (
    Context,
    DriftMonitor,
    Outcome,
    QuantileUncertainty,
    Selector,
)
from tests.unit.selection.streams import stream


def test_error_rising_fires_and_boosts_for_a_while():
    rng = random.Random(0)
    monitor = DriftMonitor(boost=2.0, duration=100)
    for _ in range(1000):
        assert not monitor.update_error(float(rng.random() < 0.1))
    assert monitor.boost_factor == 1.0
    fired_after = None
    for i in range(300):
        if monitor.update_error(float(rng.random() < 0.6)):
            fired_after = i
            break
    assert fired_after is not None and fired_after < 150
    assert monitor.events["error"] == 1 and monitor.boost_factor == 2.0
    for _ in range(100):
        monitor.tick()
    assert monitor.boost_factor == 1.0


def test_a_model_that_improves_is_not_drift():
    rng = random.Random(1)
    monitor = DriftMonitor()
    for i in range(3000):
        error_rate = max(0.1, 0.7 - i / 1000)  # learning: the error falls
        monitor.update_error(float(rng.random() < error_rate))
        monitor.update_confidence(min(0.99, 0.3 + i / 3000) + rng.uniform(-0.05, 0.05))
    assert monitor.events == {"error": 0, "confidence": 0}


def test_falling_confidence_fires():
    rng = random.Random(2)
    monitor = DriftMonitor()
    for _ in range(monitor.min_labels):
        monitor.update_error(0.0)  # enough labels for the detectors to be trusted
    for _ in range(2000):
        monitor.update_confidence(0.9 + rng.uniform(-0.05, 0.05))
    assert not monitor.active
    for _ in range(300):
        monitor.update_confidence(0.5 + rng.uniform(-0.05, 0.05))
    assert monitor.events["confidence"] >= 1


def test_drift_raises_the_selectors_query_rate_within_the_exact_budget():
    def asks_after_drift(with_drift: bool) -> tuple[list[int], set[Reason]]:
        selector = Selector(QuantileUncertainty(0.05, seed=0), audit_share=0.0,
                            drift=DriftMonitor(boost=3.0, duration=500) if with_drift else None)
        items = list(stream(4000, seed=4))
        rng = random.Random(3)
        asked_at, reasons = [], set()
        for i, it in enumerate(items):
            asked, reason = selector.ask(it.probabilities, Context(x=it.x, n_learned=500))
            if asked:
                # The model is right 90% of the time, then only 40% from item 2000 on.
                right = rng.random() < (0.9 if i < 2000 else 0.4)
                predicted = it.label if right else "wrong"
                selector.learn(Outcome(x=it.x, label=it.label, predicted=predicted,
                                       reason=reason))
                asked_at.append(i)
                if i >= 2000:
                    reasons.add(reason)
            # The exact budget holds at every point, boost or not.
            assert len(asked_at) < 0.05 * (i + 1 + 100) + 1
        return asked_at, reasons

    boosted, reasons = asks_after_drift(True)
    plain, plain_reasons = asks_after_drift(False)
    assert Reason.DRIFT in reasons and Reason.DRIFT not in plain_reasons
    # The boost may only spend labels saved earlier, never beyond the exact cap (checked at
    # every item above): at least as many labels soon after the change, none in excess.
    first = min(i for i in range(2000, 4000) if i in boosted and i not in plain)
    soon = range(first, first + 150)
    assert sum(i in soon for i in boosted) >= sum(i in soon for i in plain)
