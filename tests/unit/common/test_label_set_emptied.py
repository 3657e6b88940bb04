"""Label-set changes of classes whose records were all undone (the model holds no statistics for
them, the name is still in use): each change must equal learning the surviving records under
the new label set, and names must keep leading to the records learned under them."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.model import OnlineClassifier
from tests.unit.common.test_lda import assert_same_model, records

# (op, src, into): a rename to a new name, a rename onto an existing name (the statistics of a
# merge), a merge, a retirement. "a" is the source, "b" the target where there is one.
OPS = [("rename", "a", "alpha"), ("rename", "a", "b"), ("merge", "a", "b"), ("retire", "a", None)]
EMPTIED = {"none": "", "src": "a", "dst": "b", "both": "ab"}
RETIRED = "retired-group"  # the reference's stand-in for the retired class


def apply(m: OnlineClassifier, op: str, src: str, into: str | None) -> None:
    if op == "retire":
        m.retire_class(src)
    elif op == "merge":
        assert into is not None
        m.merge_classes(src, into)
    else:
        assert into is not None
        m.rename_class(src, into)


def final_name(y: str, op: str, src: str, into: str | None) -> str:
    if y != src:
        return y
    return RETIRED if op == "retire" else str(into)


def reference(data: list[tuple[np.ndarray, str]], op: str, src: str,
              into: str | None) -> OnlineClassifier:
    """The surviving records learned under their final names. A retired class keeps its
    records' within-class variation in the shared scatter (lda.py, ``retire``), so its
    records are learned as a class of their own, retired at the end."""
    m = OnlineClassifier()
    for x, y in data:
        m.learn_one(x, final_name(y, op, src, into))
    if RETIRED in m.classes:
        m.retire_class(RETIRED)
    return m


@pytest.mark.parametrize("emptied", EMPTIED)
@pytest.mark.parametrize(("op", "src", "into"), OPS)
def test_a_change_equals_learning_the_survivors_under_the_new_label_set(
        op: str, src: str, into: str | None, emptied: str) -> None:
    data = records(240, seed=21)
    live = OnlineClassifier()
    for x, y in data:
        live.learn_one(x, y)
    for x, y in data:  # every record of the emptied classes undone: the classes are dropped
        if y in EMPTIED[emptied]:
            assert live.unlearn_one(x, y)
    assert not set(EMPTIED[emptied]) & set(live.classes)
    survivors = [(x, y) for x, y in data if y not in EMPTIED[emptied]]

    apply(live, op, src, into)  # no KeyError, whether or not src / into hold records

    expected = reference(survivors, op, src, into)
    assert_same_model(live._learner, expected._learner)  # type: ignore[arg-type]
    assert live.class_counts == expected.class_counts
    target = None if op == "retire" else into
    assert live.resolve(src) == target
    if target is not None and "a" not in EMPTIED[emptied]:
        # A correction of a record learned under the old name still finds it.
        x0 = next(x for x, y in survivors if y == src)
        assert live.unlearn_one(x0, src)
        rest = list(survivors)
        rest.pop(next(i for i, (x, _) in enumerate(rest) if x is x0))
        assert_same_model(live._learner, reference(rest, op, src, into)._learner)  # type: ignore[arg-type]
    # A later label sent under the old name lands where the name leads now; a retired name
    # is a new class.
    before = live.class_counts.get(target or src, 0)
    live.learn_one(data[0][0], src)
    assert live.class_counts[target or src] == before + 1


def test_merging_into_a_name_never_learned_moves_the_statistics_there() -> None:
    data = records(120, seed=22)
    live = OnlineClassifier()
    for x, y in data:
        live.learn_one(x, y)
    live.merge_classes("a", "zeta")  # an unknown target: nothing to merge with
    expected = reference(data, "merge", "a", "zeta")
    assert_same_model(live._learner, expected._learner)  # type: ignore[arg-type]
    assert live.resolve("a") == "zeta" and "zeta" in live.classes


def test_changes_chain_through_emptied_classes() -> None:
    """a emptied, renamed to b (emptied too), b merged into c, c renamed back to a: every name
    learned before still leads to the class now holding its records."""
    data = records(200, seed=23)
    live = OnlineClassifier()
    for x, y in data:
        live.learn_one(x, y)
    for x, y in data:
        if y in "ab":
            live.unlearn_one(x, y)
    live.rename_class("a", "b")
    live.merge_classes("b", "c")
    live.rename_class("c", "a")
    assert [live.resolve(y) for y in "abc"] == ["a", "a", "a"]
    assert live.classes == ["a"] and live.class_counts["a"] == sum(y == "c" for _, y in data)
    live.retire_class("a")
    live.retire_class("a")  # retiring twice is the same as once
    assert [live.resolve(y) for y in "abc"] == [None, None, None] and live.classes == []
