"""The class-balanced E-step's pieces (services/common/lda_balance.py)."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.lda_balance import balance, target_shares


def test_counts_consistent_with_equal_shares_give_equal_shares():
    # ~50 fair records over 20 balanced classes: the counts alone would say 0 to 5 per class.
    counts = np.random.default_rng(0).multinomial(50, np.full(20, 0.05))
    shares = target_shares(counts)
    assert shares.sum() == pytest.approx(1.0)
    assert np.abs(shares - 0.05).max() < 0.01, shares


def test_clearly_skewed_counts_give_their_own_shares():
    counts = np.array([40.0, 25.0, 3.0, 2.0, 0.0])
    shares = target_shares(counts)
    np.testing.assert_allclose(shares, (counts + 1) / (counts.sum() + 5), atol=1e-6)


def test_balance_meets_the_target_and_keeps_each_row_a_distribution():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(600, 4)) * 2.0
    logits[:, 0] += 2.0  # class 0 takes most of the items before balancing
    R = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    shares = np.array([0.1, 0.2, 0.3, 0.4])
    B = balance(R, shares)
    np.testing.assert_allclose(B.sum(axis=1), 1.0)
    np.testing.assert_allclose(B.sum(axis=0) / len(B), shares, atol=0.01)
    assert R.sum(axis=0)[0] / len(R) > 0.5  # it did have to move: from over half to 0.1


def test_responsibilities_already_at_the_target_stay():
    R = np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])
    np.testing.assert_allclose(balance(R, np.array([0.5, 0.5])), R, atol=1e-12)
