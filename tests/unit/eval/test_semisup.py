"""The offline semi-supervised study (services/eval/semisup.py): its LDA is the service's."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.lda import StreamingLDA
from services.eval.semisup import em_refine, fit_lda, study


def _clusters(rng: np.random.Generator, n: int, d: int = 12) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(3, d)) * 0.6
    y = rng.integers(0, 3, n)
    X = centres[y] + rng.normal(size=(n, d)) * 0.35
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def test_batch_fit_equals_the_streaming_lda_on_the_same_labels() -> None:
    rng = np.random.default_rng(0)
    X, y = _clusters(rng, 60)
    model = StreamingLDA(prior_strength=50.0)
    for x, label in zip(X, y, strict=True):
        model.learn(x, str(label), calibrate=False)
    order = [int(label) for label in model.rows.labels]  # the model's class order
    onehot = (y[:, None] == np.array(order)[None, :]).astype(float)
    W, b = fit_lda(X, onehot, prior_strength=50.0)
    probe = rng.normal(size=(7, X.shape[1]))
    np.testing.assert_allclose(probe @ W.T + b, model.logits(probe), rtol=1e-8, atol=1e-8)


def test_em_uses_the_unlabeled_items_where_labels_are_few() -> None:
    rng = np.random.default_rng(1)
    X, y = _clusters(rng, 2500)
    X, y, Xh, yh = X[:2000], y[:2000], X[2000:], y[2000:]
    picked = np.array([np.flatnonzero(y == c)[0] for c in range(3)])  # one label per class
    onehot = np.eye(3)[y[picked]]
    rest = np.setdiff1d(np.arange(len(y)), picked)
    supervised = fit_lda(X[picked], onehot, prior_strength=50.0)
    refined = em_refine(X[picked], onehot, X[rest], alpha=0.3, beta=5.0,
                        prior_strength=50.0)

    def accuracy(fit: tuple[np.ndarray, np.ndarray]) -> float:
        W, b = fit
        return float(((Xh @ W.T + b).argmax(axis=1) == yh).mean())

    assert accuracy(refined) >= accuracy(supervised)
    assert accuracy(refined) > 0.9
    # No unlabeled items: nothing to refine, the supervised fit comes back unchanged.
    W0, b0 = em_refine(X[picked], onehot, X[:0], prior_strength=50.0)
    np.testing.assert_array_equal(W0, supervised[0])
    np.testing.assert_array_equal(b0, supervised[1])


@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_study_reports_every_fit_with_accuracies_in_range(fraction: float) -> None:
    rng = np.random.default_rng(2)
    X, y = _clusters(rng, 500)
    X, y, Xh, yh = X[:400], y[:400], X[400:], y[400:]
    result = study(X, y.astype(str), Xh, yh.astype(str), fraction, seeds=2, alphas=(0.1,))
    assert set(result) == {"supervised", "em alpha=0.1"}
    assert all(0.0 <= v <= 1.0 for v in result.values())
    assert result["supervised"] > 1 / 3  # better than chance on separable clusters
