"""Streaming LDA statistics: exact forgetting, order independence, relabelling, forgetting."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from services.common.lda import StreamingLDA
from services.common.model import OnlineClassifier

DIM = 16
PROBE = np.random.default_rng(99).normal(size=(20, DIM))


def records(n: int, seed: int = 0, classes: str = "abc") -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    centers = {c: rng.normal(size=DIM) for c in classes}
    out = []
    for _ in range(n):
        y = classes[rng.integers(len(classes))]
        x = centers[y] + rng.normal(0, 0.7, DIM)
        out.append((x / np.linalg.norm(x), y))
    return out


def stats(m: StreamingLDA) -> dict[str, np.ndarray]:
    """What predictions depend on, keyed by class name (row order may differ)."""
    logits = m.logits(PROBE)
    return {y: logits[:, i] for i, y in enumerate(m.rows.labels)}


def assert_same_model(a: StreamingLDA, b: StreamingLDA, tol: float = 1e-8) -> None:
    sa, sb = stats(a), stats(b)
    assert sorted(sa) == sorted(sb)
    for y in sa:
        np.testing.assert_allclose(sa[y], sb[y], rtol=tol, atol=tol)
    np.testing.assert_allclose(a._inverse, b._inverse, rtol=tol, atol=tol)
    assert a._n == pytest.approx(b._n)
    assert dict(zip(a.rows.labels, a.rows.counts, strict=True)) == dict(
        zip(b.rows.labels, b.rows.counts, strict=True))


def test_unlearning_b_equals_never_learning_it():
    data = records(400)
    rng = np.random.default_rng(1)
    retracted = set(rng.choice(len(data), size=120, replace=False).tolist())
    full, kept = StreamingLDA(refresh_every=10_000), StreamingLDA(refresh_every=10_000)
    for x, y in data:
        full.learn(x, y)
    for i, (x, y) in enumerate(data):
        if i in retracted:
            full.unlearn(x, y)
        else:
            kept.learn(x, y)
    assert_same_model(full, kept)


def test_statistics_do_not_depend_on_order():
    data = records(300, seed=3)
    forward, backward = StreamingLDA(), StreamingLDA()
    for x, y in data:
        forward.learn(x, y)
    for x, y in reversed(data):
        backward.learn(x, y)
    assert_same_model(forward, backward)


def test_unlearning_a_class_s_last_record_removes_the_class():
    m = StreamingLDA()
    data = records(50, classes="ab")
    for x, y in data:
        m.learn(x, y)
    lone = np.ones(DIM) / np.sqrt(DIM)
    m.learn(lone, "c")
    assert "c" in m.rows.labels
    m.unlearn(lone, "c")
    assert m.rows.labels == sorted(set(y for _, y in data), key=m.rows.labels.index)
    assert "c" not in m.rows.index


def test_weights_are_sufficient_statistics():
    data = records(60, seed=5)
    halves, whole = StreamingLDA(), StreamingLDA()
    for x, y in data:
        halves.learn(x, y, weight=0.5)
        halves.learn(x, y, weight=0.5)
        whole.learn(x, y)
    np.testing.assert_allclose(halves.means(), whole.means(), atol=1e-12)
    np.testing.assert_allclose(halves._scatter, whole._scatter, atol=1e-10)


def test_merge_equals_learning_src_under_dst_name():
    data = records(300, seed=7, classes="abcd")
    merged, direct = StreamingLDA(), StreamingLDA()
    for x, y in data:
        merged.learn(x, y)
        direct.learn(x, "b" if y == "a" else y)
    merged.merge("a", "b")
    sm, sd = stats(merged), stats(direct)
    assert sorted(sm) == sorted(sd) == ["b", "c", "d"]
    for y in sm:
        np.testing.assert_allclose(sm[y], sd[y], rtol=1e-8, atol=1e-8)


def test_rename_keeps_predictions_under_the_new_name():
    m = OnlineClassifier()
    for x, y in records(200, seed=8):
        m.learn_one(x, y)
    before = m.predict_proba_one(PROBE[0])
    m.rename_class("a", "alpha")
    after = m.predict_proba_one(PROBE[0])
    assert after["alpha"] == pytest.approx(before["a"])
    assert set(after) == {"alpha", "b", "c"}


def test_corrections_of_records_learned_under_an_old_name_still_find_them():
    m, reference = OnlineClassifier(), OnlineClassifier()
    data = records(200, seed=9)
    for x, y in data:
        m.learn_one(x, y)
    m.rename_class("a", "alpha")
    x0, y0 = next((x, y) for x, y in data if y == "a")
    assert m.unlearn_one(x0, y0)  # learned as "a", now lives in "alpha"
    dropped = False
    for x, y in data:
        if not dropped and y == "a" and x is x0:
            dropped = True
            continue
        reference.learn_one(x, "alpha" if y == "a" else y)
    np.testing.assert_allclose(m.predict_proba_one(PROBE[1])["alpha"],
                               reference.predict_proba_one(PROBE[1])["alpha"], rtol=1e-6)
    m.rename_class("alpha", "a")  # and back again
    assert set(m.classes) == {"a", "b", "c"}


def test_retire_drops_the_class_and_keeps_the_others():
    m = OnlineClassifier()
    data = records(300, seed=10)
    for x, y in data:
        m.learn_one(x, y)
    means_before = {y: m._learner.means()[i] for i, y in enumerate(m._learner.rows.labels)}
    m.retire_class("b")
    assert m.classes == ["a", "c"]
    lda = m._learner
    for i, y in enumerate(lda.rows.labels):
        np.testing.assert_allclose(lda.means()[i], means_before[y])
    x_b = next(x for x, y in data if y == "b")
    assert m.unlearn_one(x_b, "b") is False  # its statistics are gone already


def test_forgetting_follows_a_moving_class_and_unlearns_exactly():
    rng = np.random.default_rng(11)
    old, new = np.eye(DIM)[0], np.eye(DIM)[1]
    decayed, exact = StreamingLDA(half_life=10), StreamingLDA()
    history = []
    for i in range(600):  # class "a" moves from `old` to `new` halfway; "b" stays put
        center = old if i < 300 else new
        xa = center + rng.normal(0, 0.05, DIM)
        xb = np.eye(DIM)[2] + rng.normal(0, 0.05, DIM)
        for m in (decayed, exact):
            m.learn(xa, "a", t=2 * i)
            m.learn(xb, "b", t=2 * i + 1)
        history.append((xa, 2 * i))
    a = decayed.rows.index["a"]
    assert np.linalg.norm(decayed.means()[a] - new) < 0.1  # follows the new position
    assert np.linalg.norm(exact.means()[a] - (old + new) / 2) < 0.1  # remembers everything
    # Forgetting the latest record of "a" (t well past several rebases) is exact.
    x_last, _ = history[-1]
    reference = pickle.loads(pickle.dumps(decayed))
    decayed.learn(x_last * 0.5, "a", weight=0.3, t=1300)
    decayed.unlearn(x_last * 0.5, "a", weight=0.3, t=1300)
    np.testing.assert_allclose(decayed.means(), reference.means(), atol=1e-9)
    with pytest.raises(ValueError, match="needs the t"):
        decayed.unlearn(x_last, "a")


def test_forgetting_off_by_default_and_pickle_keeps_predictions():
    m = OnlineClassifier(half_life=100)
    for i, (x, y) in enumerate(records(150, seed=12)):
        m.learn_one(x, y, t=i)
    back = pickle.loads(pickle.dumps(m))
    assert back.predict_proba_one(PROBE[2]) == m.predict_proba_one(PROBE[2])
    assert OnlineClassifier().half_life is None


def test_softmax_cannot_forget_but_can_relabel():
    m = OnlineClassifier(kind="softmax")
    for x, y in records(60, seed=13):
        m.learn_one(x, y)
    with pytest.raises(NotImplementedError, match="cannot forget"):
        m.unlearn_one(PROBE[0], "a")
    m.rename_class("a", "alpha")
    m.retire_class("c")
    assert m.classes == ["alpha", "b"]


def test_held_out_logits_equal_a_model_that_never_learned_the_record():
    """The calibration's leave-one-out is exact: class mean *and* shared scatter without the
    record, as if it had been unlearned (a record alone in its class keeps its logits)."""
    import copy

    rng = np.random.default_rng(3)
    model = StreamingLDA(prior_strength=50.0)
    X, y = [], []
    for i in range(60):
        x = rng.normal(size=16) + i % 3
        X.append(x / np.linalg.norm(x))
        y.append("abc"[i % 3])
        model.learn(X[-1], y[-1], calibrate=False)
    lone = rng.normal(size=16)
    model.learn(lone, "d", calibrate=False)
    records = np.stack([*X[:9], lone])
    labels = [*y[:9], "d"]
    fast = model._held_out_logits(records, np.array([model.rows.index[c] for c in labels]))
    for i in range(9):
        without = copy.deepcopy(model)
        without.unlearn(records[i], labels[i])
        np.testing.assert_allclose(fast[i], without.logits(records[i][None])[0], atol=1e-8)
    np.testing.assert_allclose(fast[9], model.logits(lone[None])[0], atol=1e-8)
