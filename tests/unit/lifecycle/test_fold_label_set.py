"""Label-set changes through the trainer's fold, including classes whose records were all
undone: the fold must end where learning only the surviving records under the final label set
ends (the LDA's exactness contract), and old names must keep finding their records."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.model import OnlineClassifier
from services.common.schemas import LabelEvent
from services.trainer.fold import LabelFold, Outcome
from tests.unit.lifecycle.synth import Stream, label, label_set, retract

TOL = 1e-8
OPS = [("rename", "c0", "zero"), ("rename", "c0", "c1"), ("merge", "c0", "c1"),
       ("retire", "c0", None)]
EMPTIED = {"none": (), "src": ("c0",), "dst": ("c1",), "both": ("c0", "c1")}
PROBE = Stream(dim=16, seed=99).sample(12)[0]


def named_logits(model: OnlineClassifier) -> dict[str, np.ndarray]:
    """The statistics' logits by class name (row order differs between learning orders)."""
    lda = model._learner
    z = lda.logits(PROBE)
    return {y: z[:, i] for i, y in enumerate(lda.rows.labels)}


def assert_same(live: OnlineClassifier, expected: OnlineClassifier) -> None:
    a, b = named_logits(live), named_logits(expected)
    assert sorted(a) == sorted(b)
    for y in a:
        np.testing.assert_allclose(a[y], b[y], rtol=TOL, atol=TOL)
    assert live.class_counts == expected.class_counts
    assert live._learner._n == pytest.approx(expected._learner._n, rel=TOL)


def learned_as(buckets: dict[str, list[np.ndarray]]) -> OnlineClassifier:
    """A fresh model that learned each bucket's records under the bucket's name; buckets named
    ``retired-*`` are retired afterwards (a retired class's within-class variation stays in the
    shared scatter, lda.py ``retire``, so it is learned and then retired)."""
    m = OnlineClassifier()
    for name, xs in buckets.items():
        for x in xs:
            m.learn_one(x, name)
    for name in buckets:
        if name.startswith("retired-") and buckets[name]:
            m.retire_class(name)
    return m


@pytest.mark.parametrize("emptied", EMPTIED)
@pytest.mark.parametrize(("op", "src", "into"), OPS)
def test_a_change_of_an_emptied_class_is_applied(op: str, src: str, into: str | None,
                                                 emptied: str) -> None:
    events = Stream(k=3, dim=16, seed=5).events(60)
    fold = LabelFold(OnlineClassifier())
    for e in events:
        fold.apply(e)
    gone = [e for e in events if e.label in EMPTIED[emptied]]
    for e in gone:  # every record of the emptied classes undone
        assert fold.apply(retract(e)) == Outcome.RETRACTED
    assert fold.apply(label_set(op, src, into)) == Outcome.LABEL_SET  # was: KeyError

    final = "retired-0" if op == "retire" else into
    survivors = [e for e in events if e not in gone]
    buckets: dict[str, list[np.ndarray]] = {}
    for e in survivors:
        buckets.setdefault(final if e.label == src else e.label, []).append(
            np.asarray(e.embedding))
    assert_same(fold.model, learned_as(buckets))
    old = [e for e in survivors if e.label == src]
    for e in old:
        assert fold.label_of(e.item_id) == (None if op == "retire" else into)
    if old:  # an undo of a record learned under the old name still finds it
        n = fold.model.n_learned
        assert fold.apply(retract(old[0])) == Outcome.RETRACTED
        assert fold.model.n_learned == n - (op != "retire")
    # A label under the old name after the change (a request that raced it) lands where the
    # name leads now; after a retirement the name is a new class.
    late = label("late", src, events[0].embedding)
    assert fold.apply(late) == Outcome.LEARNED
    assert fold.label_of("late") == (src if op == "retire" else into)
    assert fold.apply(retract(late)) == Outcome.RETRACTED


def simulate(rng: np.random.Generator, X: np.ndarray, steps: int) -> tuple[
        list[LabelEvent], dict[str, str | None], dict[str, list[np.ndarray]]]:
    """A random history of labels, corrections, undos, renames, merges and retirements, with
    changes to emptied classes made often. Returns the log, each item's final label (None:
    retired) and the surviving records by final name (``retired-k``: the k-th retirement)."""
    log: list[LabelEvent] = []
    live = ["c0", "c1", "c2"]  # the names the label set accepts
    alias: dict[str, str | None] = {}  # old name -> where it leads (None: retired)
    current: dict[str, tuple[LabelEvent, str]] = {}  # item -> (its label, bucket)
    retired: dict[str, list[np.ndarray]] = {}
    fresh = iter(f"n{i}" for i in range(10_000))

    def leads(y: str) -> str | None:
        while y in alias:
            nxt = alias[y]
            if nxt is None:
                return None
            y = nxt
        return y

    for _ in range(steps):
        roll = rng.random()
        holding = {b for _, b in current.values()}
        emptied = [y for y in live if y not in holding]
        pool = emptied if emptied and rng.random() < 0.5 else live
        if roll < 0.15 and len(live) >= 2:
            src = pool[int(rng.integers(len(pool)))]
            others = [y for y in live if y != src]
            op = ["rename", "merge", "retire"][int(rng.integers(3))]
            if op == "rename":  # a new name, or one renamed away or retired earlier
                used = [y for y in alias if y not in live]
                into = used[int(rng.integers(len(used)))] if used and rng.random() < 0.3 \
                    else next(fresh)
                alias.pop(into, None)
                live.append(into)
            elif op == "merge":
                into = others[int(rng.integers(len(others)))]
            else:
                into = None
                name = f"retired-{len(retired)}"
                retired[name] = []
            for item, (e, b) in list(current.items()):
                if b == src:
                    if into is None:
                        retired[name].append(X[int(item[1:])])
                    current[item] = (e, into or name)
            alias[src] = into
            live.remove(src)
            log.append(label_set(op, src, into))
            continue
        item = f"i{rng.integers(len(X))}"
        old = current.get(item)
        if old is not None and roll < 0.45:
            log.append(retract(old[0]))  # an undo
            del current[item]
            continue
        if rng.random() < 0.1 or not live:  # a name renamed away (a racing request) or new
            names = [*alias, next(fresh)]
            y = names[int(rng.integers(len(names)))]
        else:
            y = live[int(rng.integers(len(live)))]
        bucket = leads(y)
        if bucket is None:  # a retired name used again: a new class
            alias.pop(y, None)
            bucket = y
        if bucket not in live:
            live.append(bucket)
        fix = old is not None and rng.random() < 0.6  # a correction, else another source's label
        e = label(item, y, X[int(item[1:])], retracts=old[0].event_id if fix and old else None)
        current[item] = (e, bucket)
        log.append(e)
    buckets: dict[str, list[np.ndarray]] = {**retired}
    for item, (_, b) in current.items():
        if not b.startswith("retired-"):
            buckets.setdefault(b, []).append(X[int(item[1:])])
    finals = {item: None if b.startswith("retired-") else b for item, (_, b) in current.items()}
    return log, finals, buckets


@pytest.mark.parametrize("seed", range(60))
def test_random_histories_equal_learning_the_survivors_under_final_names(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = Stream(dim=16, seed=seed).sample(10)[0]
    log, finals, buckets = simulate(rng, X, 160)
    fold = LabelFold(OnlineClassifier())
    outcomes = [fold.apply(e) for e in log]  # never raises
    changes = [e for e in log if e.action == "label_set"]
    assert outcomes.count(Outcome.LABEL_SET) == len(changes)
    assert {i: fold.label_of(i) for i in fold.items} == finals
    assert_same(fold.model, learned_as(buckets))


def test_random_histories_change_emptied_classes() -> None:
    """The generator does exercise the case (a change to a class holding no records)."""
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        log, _, _ = simulate(rng, Stream(dim=16, seed=seed).sample(10)[0], 160)
        fold = LabelFold(OnlineClassifier())
        for e in log:
            if e.change is not None:
                name = fold.model.resolve(e.change.label)
                hits += name is not None and name not in fold.model.class_counts
            fold.apply(e)
    assert hits >= 20
