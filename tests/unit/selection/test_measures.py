from __future__ import annotations

import numpy as np
import pytest

from services.common.schemas import Reason
from services.common.selection import Committee, Context, Entropy, LeastConfidence, Margin, Outcome

MEASURES = [LeastConfidence(), Margin(), Entropy()]


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_uniform_is_most_and_one_hot_least_uncertain(measure):
    for k in (2, 5, 20):
        uniform = {str(i): 1 / k for i in range(k)}
        one_hot = {str(i): float(i == 0) for i in range(k)}
        assert measure(uniform) == pytest.approx(1.0, abs=1e-9)
        assert measure(one_hot) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_untrained_or_single_class_models_are_maximally_uncertain(measure):
    assert measure({}) == 1.0
    assert measure({"only": 1.0}) == 1.0


def test_margin_breaks_ties_by_the_spread_of_the_rest():
    concentrated = {"a": 0.5, "b": 0.3, "c": 0.2, "d": 0.0}
    spread = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.1}
    assert Margin()(spread) > Margin()(concentrated)  # same top-2 gap
    assert Margin()({"a": 0.5, "b": 0.45, "c": 0.05}) > Margin()(spread)  # the gap still rules


def blobs(n: int, seed: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = "ab"[i % 2]
        centre = np.array([1.0, 0.0, 0, 0]) if label == "a" else np.array([0.0, 1.0, 0, 0])
        out.append((centre + rng.normal(0, 0.15, 4), label))
    return out


@pytest.mark.parametrize("disagreement", ["kl", "vote_entropy"])
def test_committee_disagrees_on_the_boundary_not_on_the_clusters(disagreement):
    committee = Committee(n_members=5, disagreement=disagreement, seed=0)
    assert committee.reason == Reason.COMMITTEE
    assert committee.score({}, Context(x=np.zeros(4))) == 1.0  # untrained: ask
    for x, y in blobs(60, seed=1):
        committee.learn(Outcome(x=x, label=y))
    on_cluster = committee.score({}, Context(x=np.array([1.0, 0.0, 0, 0])))
    on_boundary = committee.score({}, Context(x=np.array([0.5, 0.5, 0, 0])))
    assert 0.0 <= on_cluster < on_boundary <= 1.0


def test_committee_needs_the_embedding():
    with pytest.raises(ValueError, match=r"context\.x"):
        Committee().score({"a": 0.5, "b": 0.5}, Context())
