from __future__ import annotations

import numpy as np
import pytest

from services.common.model import OnlineClassifier
from services.common.schemas import Reason
from services.common.selection import (
    Context,
    DiversityColdStart,
    HandoverClassifier,
    PrototypeClassifier,
)


def clustered(n: int, k: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Items from k tight clusters; cluster 0 makes up most of the stream."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(16, k)))[0].T
    weights = np.array([0.6] + [0.4 / (k - 1)] * (k - 1))
    ids = rng.choice(k, size=n, p=weights).tolist()
    X = centres[ids] + rng.normal(0, 0.05, size=(n, 16))
    return X / np.linalg.norm(X, axis=1, keepdims=True), ids


def test_cold_start_spreads_the_first_labels_over_the_space():
    X, ids = clustered(600, k=8, seed=0)
    rule = DiversityColdStart(0.05, seed=0)
    asked = [i for i, x in enumerate(X) if rule.ask({}, Context(x=x, n_learned=0))[0]]
    assert asked and len(asked) <= 0.05 * (600 + 100)
    first = asked[:8]
    # The first eight labels cover far more clusters than the first eight items would.
    assert len({ids[i] for i in first}) >= 6 > len({ids[i] for i in range(8)})
    assert rule.ask({}, Context(x=X[0], n_learned=0))[1] in (None, Reason.COLD_START)


def test_cold_start_hands_over_once_the_model_knows_enough():
    rule = DiversityColdStart(0.1, min_labels=20, per_class=2)
    probs = {c: 0.1 for c in "abcdefghij"}
    assert rule.active({}, Context(n_learned=0))
    assert rule.active(probs, Context(n_learned=19))  # 10 classes need 20 labels
    assert not rule.active(probs, Context(n_learned=20))
    assert rule.active({"a": 1.0}, Context(n_learned=50))  # one class is not a model


def test_zero_shot_prototypes_give_a_first_prediction_and_hand_over():
    sport, politics = np.eye(4)[0], np.eye(4)[1]
    prototypes = PrototypeClassifier({"sport": sport, "politics": politics})
    model = HandoverClassifier(OnlineClassifier(), prototypes, handover=10)
    doc = 0.9 * sport + 0.1 * politics
    assert model.n_learned == 0
    assert model.predict_one(doc) == "sport"
    # Labels say documents like this are "politics": the learned model takes over.
    for _ in range(200):
        model.learn_one(doc, "politics")
        model.learn_one(politics + 0.9 * sport, "other")
    assert model.predict_proba_one(doc)["politics"] > 0.5
    assert set(model.classes) == {"sport", "politics", "other"}


def test_prototypes_need_two_labels():
    with pytest.raises(ValueError):
        PrototypeClassifier({"only": np.ones(3)})
