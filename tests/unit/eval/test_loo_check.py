"""The calibration diagnostic (services/eval/loo_check.py) on a synthetic mixture."""

from __future__ import annotations

import numpy as np

from services.common.lda import StreamingLDA
from services.common.lda_semisup import RefineConfig
from services.common.rows import softmax
from services.eval.loo_check import best_beta, exact_loo_logits


def fitted(seed: int) -> tuple[StreamingLDA, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 16)) * 0.6

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        X = centers[y] + rng.normal(size=(n, 16))
        return X / np.linalg.norm(X, axis=1, keepdims=True), y

    X, y = draw(45)
    model = StreamingLDA(prior_strength=20.0)
    for x, c in zip(X, y, strict=True):
        model.learn(x, "abc"[c])
    return model, draw(2000)[0]


def test_without_a_population_the_exact_leave_one_out_is_the_fast_one():
    model, window = fitted(0)
    fair = model._fair_records()
    assert fair is not None and model.population_weight == 0
    X, idx = fair
    np.testing.assert_allclose(exact_loo_logits(model, X, idx, window, RefineConfig()),
                               model._held_out_logits(X, idx), atol=1e-8)


def test_with_a_population_records_look_harder_when_the_refinement_cannot_see_them():
    """The fast leave-one-out keeps the population that responded to the record; redoing
    the refinement without it gives the record less probability on average (5 mixtures)."""
    gaps = []
    for seed in range(5):
        model, window = fitted(seed)
        config = RefineConfig(weight=0.1)
        assert model.refine(window, config.steps, config.weight, min_gain=-np.inf).applied
        fair = model._fair_records()
        assert fair is not None
        X, idx = fair
        beta = float(np.exp(model._log_beta))
        rows = np.arange(len(idx))
        fast = softmax(beta * model._held_out_logits(X, idx))[rows, idx]
        exact = softmax(beta * exact_loo_logits(model, X, idx, window, config))[rows, idx]
        gaps.append(float(np.mean(np.log(fast)) - np.mean(np.log(exact))))
    assert np.mean(gaps) > 0, gaps


def test_best_beta_recovers_a_known_temperature():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4000, 4)) * 3
    p = softmax(0.5 * z)
    idx = np.array([rng.choice(4, p=row) for row in p])
    assert abs(best_beta(z, idx) - 0.5) < 0.08
