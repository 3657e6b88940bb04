from __future__ import annotations

from services.common.selection import Context, QuantileUncertainty, QueuePressure, Selector
from tests.unit.selection.streams import stream


def test_scale_falls_when_the_queue_outgrows_reviewers_and_recovers_when_drained():
    p = QueuePressure(horizon_s=600, min_depth=20)
    for t in range(0, 600, 10):  # one label every 10 s: 0.1 labels/s
        p.observe_label(float(t))
    p.observe_depth(30, 600.0)
    assert p.scale() == 1.0  # 300 s of backlog: within the horizon
    p.observe_depth(600, 700.0)  # 6000 s of backlog at this pace
    assert p.growth > 0
    assert 0.05 <= p.scale() <= 0.15
    p.observe_depth(10, 900.0)  # drained
    assert p.scale() == 1.0


def test_no_reviewer_at_all_throttles_to_the_minimum_once_the_queue_is_long():
    p = QueuePressure(min_depth=50, min_scale=0.05)
    p.observe_depth(40, 0.0)
    assert p.scale() == 1.0
    p.observe_depth(500, 60.0)
    assert p.scale() == 0.05


def test_pressure_raises_the_effective_threshold_and_cuts_the_query_rate():
    items = list(stream(4000, seed=5))

    def run(pressure: float) -> tuple[int, float]:
        selector = Selector(QuantileUncertainty(0.1, seed=0), audit_share=0.0)
        selector.set_pressure(pressure)
        asked = sum(selector.ask(it.probabilities, Context(x=it.x, n_learned=500))[0]
                    for it in items)
        return asked, selector.stats["threshold"]

    relaxed, low_threshold = run(1.0)
    pressed, high_threshold = run(0.25)
    assert high_threshold > low_threshold
    assert pressed < 0.4 * relaxed
