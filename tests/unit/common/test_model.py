from __future__ import annotations

import pickle

import numpy as np
import pytest

from services.common.errors import SignatureError
from services.common.model import OnlineClassifier, dump_artifact, load_verified

KEY = b"k" * 32


def blobs(n: int, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    centers = {"a": np.eye(8)[0], "b": np.eye(8)[1], "c": np.eye(8)[2]}
    out = []
    for i in range(n):
        label = "abc"[i % 3]
        out.append((centers[label] + rng.normal(0, 0.2, 8), label))
    return out


def test_untrained_model_predicts_nothing():
    m = OnlineClassifier()
    assert m.predict_proba_one(np.zeros(8)) == {}
    assert m.predict_one(np.zeros(8)) is None


def test_learns_separable_classes_online():
    m = OnlineClassifier()
    for x, y in blobs(300):
        m.learn_one(x, y)
    test = blobs(90, seed=1)
    acc = np.mean([m.predict_one(x) == y for x, y in test])
    assert acc > 0.9
    probs = m.predict_proba_one(test[0][0])
    assert set(probs) == {"a", "b", "c"} and abs(sum(probs.values()) - 1) < 1e-9
    assert m.n_learned == 300 and m.classes == ["a", "b", "c"]


def test_signed_artifact_round_trips():
    m = OnlineClassifier()
    for x, y in blobs(30):
        m.learn_one(x, y)
    data, sha, sig = dump_artifact(m, KEY)
    back = load_verified(data, sha256=sha, signature=sig, key=KEY)
    x = blobs(1, seed=5)[0][0]
    assert back.predict_proba_one(x) == m.predict_proba_one(x)


def test_tampered_or_foreign_artifacts_are_never_unpickled(monkeypatch):
    m = OnlineClassifier()
    data, sha, sig = dump_artifact(m, KEY)
    loads = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: loads.append(a))
    with pytest.raises(SignatureError, match="digest"):
        load_verified(data + b"x", sha256=sha, signature=sig, key=KEY)
    with pytest.raises(SignatureError, match="signature"):
        load_verified(data, sha256=sha, signature=sig, key=b"other key")
    assert loads == []


def test_signed_object_of_the_wrong_type_is_refused():
    data = pickle.dumps({"not": "a model"})
    from services.common.signing import sha256_hex, sign

    with pytest.raises(SignatureError):
        load_verified(data, sha256=sha256_hex(data), signature=sign(data, KEY), key=KEY)


def test_matches_rivers_softmax_regression_with_adagrad():
    """The numpy model is River's SoftmaxRegression(AdaGrad) plus a bias feature, exactly."""
    from river import linear_model, optim

    rng = np.random.default_rng(0)
    ours = OnlineClassifier(learning_rate=0.5, l2=1e-5, kind="softmax")
    river = linear_model.SoftmaxRegression(optimizer=optim.AdaGrad(0.5), l2=1e-5)

    def feats(v: np.ndarray) -> dict:
        return {**{i: float(x) for i, x in enumerate(v)}, "bias": 1.0}

    for i in range(200):
        x = rng.normal(size=6)
        y = "abcd"[int(rng.integers(0, 4 if i > 20 else 2))]  # classes appear over time
        ours.learn_one(x, y)
        river.learn_one(feats(x), y)
        probe = rng.normal(size=6)
        expected = river.predict_proba_one(feats(probe))
        got = ours.predict_proba_one(probe)
        assert set(got) == set(expected)
        assert max(abs(got[c] - expected[c]) for c in got) < 1e-9


@pytest.mark.parametrize("kind", ["lda", "softmax"])
def test_batch_predictions_match_one_at_a_time(kind):
    m = OnlineClassifier(kind=kind)
    for x, y in blobs(60):
        m.learn_one(x, y)
    X = np.stack([x for x, _ in blobs(20, seed=3)])
    for row, probs in zip(X, m.predict_proba_many(X), strict=True):
        one = m.predict_proba_one(row)
        assert max(abs(one[c] - probs[c]) for c in one) < 1e-12
    assert m.predict_many(X) == [m.predict_one(row) for row in X]


@pytest.mark.parametrize("kind", ["lda", "softmax"])
def test_both_kinds_learn_and_round_trip(kind):
    m = OnlineClassifier(kind=kind)
    for x, y in blobs(300):
        m.learn_one(x, y)
    test = blobs(90, seed=1)
    assert np.mean([m.predict_one(x) == y for x, y in test]) > 0.9
    back = pickle.loads(pickle.dumps(m))
    x = test[0][0]
    assert back.predict_proba_one(x) == pytest.approx(m.predict_proba_one(x), abs=1e-9)
    back.learn_one(x, "a")  # a restored model keeps learning
    assert back.n_learned == 301


def test_lda_does_not_depend_on_label_order():
    """Exact statistics: the same labels in another order give the same means/covariance
    (only the online temperature, fitted on each label before it is learned, may differ)."""
    data = blobs(120)
    a, b = OnlineClassifier(), OnlineClassifier()
    for x, y in data:
        a.learn_one(x, y)
    for x, y in reversed(data):
        b.learn_one(x, y)
    probe = np.stack([x for x, _ in blobs(30, seed=9)])
    assert a.predict_many(probe) == b.predict_many(probe)


def test_lda_probabilities_are_calibrated_not_overconfident():
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(5, 16))

    def draw(n: int) -> list[tuple[np.ndarray, str]]:
        ids = rng.integers(0, 5, size=n)
        return [(centers[i] + rng.normal(0, 1.3, 16), str(i)) for i in ids]
    m = OnlineClassifier()
    for x, y in draw(1500):
        m.learn_one(x, y)
    test = draw(800)
    probs = m.predict_proba_many(np.stack([x for x, _ in test]))
    confidence = np.mean([max(p.values()) for p in probs])
    hits = [max(p, key=p.__getitem__) == y for p, (_, y) in zip(probs, test, strict=True)]
    accuracy = np.mean(hits)
    assert 0.5 < accuracy < 0.97  # overlapping classes: a real test of calibration
    assert abs(confidence - accuracy) < 0.06
