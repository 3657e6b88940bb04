"""The replay harness does what the service does around the first model: cold start with no
model, the trainer's publish cadence, label delay, the scorer's selector. These tests hold the
selector to the issue-13 promises: no routing blackout once a model arrives, and the exact
budget at every point."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.selection import make_strategy
from services.common.selection.budget import budget_cap
from services.eval.replay import replay

BUDGET = 0.1
WINDOW = 200


def clusters(n: int, seed: int, k: int = 4, dim: int = 32) -> tuple[np.ndarray, list[str]]:
    """k overlapping Gaussian classes on the unit sphere (some items are hard)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    labels = rng.integers(k, size=n)
    X = centres[labels] + rng.normal(scale=1.6, size=(n, dim))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, [f"c{i}" for i in labels]


def service_like(seed: int, label_delay: int, publish_items: int, n: int = 2400,
                 budget: float = BUDGET):
    X, y = clusters(n, seed)
    Xh, yh = clusters(300, seed)  # same centres (same seed): a holdout of the same classes
    # The trainer publishes every 20 labels or every publish_items items (its 30 s at the
    # stream's rate); labels come back label_delay items after they were asked for. Before
    # each publish it refines on the unlabeled items, as the trainer does by default.
    return replay(X, y, Xh, yh, make_strategy("default", budget, seed=seed), OnlineClassifier(),
                  label_delay=label_delay, checkpoints=0, publish_every=20,
                  publish_items=publish_items, budget=budget, refine=RefineConfig())


# (5, 300): reviewers answer within 5 items and the 20th label publishes the first model:
# the scorer of before issue 13 then routed 0-3 items per 200 for hundreds of items (its
# threshold came from a history full of the model-less 1.0s, and the cold start's warm-up
# spend pushed its rate controller to zero). (40, 60): slower reviewers, time-based publish.
@pytest.mark.parametrize(("label_delay", "publish_items"), [(5, 300), (40, 60)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_routing_resumes_at_the_budget_rate_once_the_first_model_arrives(seed, label_delay,
                                                                        publish_items):
    run = service_like(seed, label_delay, publish_items)
    assert run.first_model_at is not None and run.first_model_at > 0  # a real cold start
    asked = np.zeros(run.n_items, dtype=int)
    asked[run.asked_at] = 1
    start = run.first_model_at
    # Within a few dozen items of the first model, routing is back ...
    assert asked[start:start + 60].sum() >= 1
    # ... and every window of 200 items after it routes at least a third of the budget rate.
    floor = BUDGET * WINDOW / 3
    worst = min(asked[i:i + WINDOW].sum() for i in range(start, run.n_items - WINDOW + 1, 10))
    assert worst >= floor, f"a window of {WINDOW} items routed {worst} < {floor:.1f}"


@pytest.mark.parametrize("name", ["default", "random"])
@pytest.mark.parametrize("budget", [0.02, 0.1])
def test_the_exact_budget_holds_at_every_item_through_cold_start(name, budget):
    X, y = clusters(3000, 5)
    run = replay(X, y, X[:100], y[:100], make_strategy(name, budget, seed=0),
                 OnlineClassifier(), label_delay=40, checkpoints=0, publish_every=20,
                 publish_items=300, budget=budget)
    spent = np.cumsum(np.bincount(run.asked_at, minlength=run.n_items))
    caps = [budget_cap(budget, t + 1, 100, 1000) for t in range(run.n_items)]
    # (a label is whole: the spend may be up to one label ahead of the accrued budget)
    assert all(s < c + 1 for s, c in zip(spent, caps, strict=True))
    # After the warm-up allowance is gone, never a label above budget x items ...
    assert run.worst_overspend < budget * 100 + 1
    assert run.labels_used < budget * run.n_items + 1
    # ... and not left unused either.
    assert run.labels_used >= 0.97 * budget * run.n_items


def test_the_replay_refines_on_unlabeled_items_as_the_trainer_does(monkeypatch):
    """Every scored item enters the window, labelled items leave it when their label is
    learned, and each publish refines on what is left."""
    from services.common.unlabeled import UnlabeledWindow

    seen: list[int] = []
    labelled: set[str] = set()
    refine = OnlineClassifier.refine

    def spy(self, X, config):  # type: ignore[no-untyped-def]
        seen.append(len(X))
        return refine(self, X, config)

    discard = UnlabeledWindow.discard

    def spy_discard(self, item_id):  # type: ignore[no-untyped-def]
        labelled.add(item_id)
        assert item_id in self or len(self) == self.size  # was observed (unless aged out)
        discard(self, item_id)

    monkeypatch.setattr(OnlineClassifier, "refine", spy)
    monkeypatch.setattr(UnlabeledWindow, "discard", spy_discard)
    run = service_like(0, 5, 300)
    assert len(labelled) == run.labels_used
    assert seen and max(seen) <= RefineConfig().window
    assert sum(run.refinements.values()) == len(seen) + run.refinements.get("skipped", 0)
    assert run.refinements.get("applied", 0) >= 1
    plain = replay(*clusters(2400, 0), *clusters(300, 0), make_strategy("default", BUDGET, seed=0),
                   OnlineClassifier(), label_delay=5, checkpoints=0, publish_every=20,
                   publish_items=300, budget=BUDGET)
    assert plain.refinements == {}

