"""Every strategy in the registry, through the same checks."""

from __future__ import annotations

import pickle

import pytest

from services.common.selection import make_strategy, strategy_names
from tests.unit.selection.streams import run, stream

BUDGET = 0.1
WINDOW = 1000  # every strategy's default budget window
N = 3000
ALL = strategy_names()
BUDGETED = [n for n in ALL if n != "full"]


@pytest.fixture(scope="module")
def items():
    return list(stream(N, seed=1))


@pytest.mark.parametrize("name", BUDGETED)
def test_respects_budget_over_a_long_stream(name, items):
    decisions = run(make_strategy(name, BUDGET, seed=0), items)
    # No window of WINDOW consecutive items holds a burst beyond 1.25x the budget ...
    worst = max(sum(decisions[i:i + WINDOW]) for i in range(0, N - WINDOW + 1, 50))
    assert worst <= 1.25 * BUDGET * WINDOW
    # ... and the exact budget holds at every point: labels never exceed budget x items seen
    # plus the warm-up allowance (100 items' worth, shrinking to nothing by item 1000), and
    # the budget is not left unused.
    spent = 0
    for i, asked in enumerate(decisions):
        spent += asked
        assert spent < BUDGET * (i + 1 + 100 * max(0.0, 1 - (i + 1) / 1000)) + 1
    assert sum(decisions) <= BUDGET * N + 1
    assert sum(decisions) >= 0.5 * BUDGET * N


@pytest.mark.parametrize("name", ["default", "random", "quantile_margin"])
def test_budget_trackers_spend_the_budget_exactly(name, items):
    # Random at exactly its budget makes "equal nominal budget" mean equal labels; the
    # default's controller lands within a label or two of it.
    decisions = run(make_strategy(name, BUDGET, seed=0), [*items, *items])
    assert BUDGET * 2 * N * 0.99 <= sum(decisions) <= BUDGET * 2 * N + 1


def test_full_supervision_asks_for_everything(items):
    assert all(run(make_strategy("full", BUDGET, seed=0), items[:200]))


@pytest.mark.parametrize("name", ALL)
def test_asks_while_untrained(name):
    untrained = list(stream(100, seed=2, untrained=100))
    assert any(run(make_strategy(name, BUDGET, seed=0), untrained))


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_a_seed(name, items):
    first = run(make_strategy(name, BUDGET, seed=42), items[:1500])
    second = run(make_strategy(name, BUDGET, seed=42), items[:1500])
    assert first == second


@pytest.mark.parametrize("name", ALL)
def test_pickles_mid_stream_and_continues_identically(name, items):
    strategy = make_strategy(name, BUDGET, seed=3)
    run(strategy, items[:700])
    clone = pickle.loads(pickle.dumps(strategy))
    assert run(strategy, items[700:1400]) == run(clone, items[700:1400])
