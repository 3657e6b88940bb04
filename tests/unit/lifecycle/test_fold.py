"""The label fold: every action applied exactly, redelivery never applied twice."""

from __future__ import annotations

import numpy as np

from services.common.model import OnlineClassifier
from services.trainer.fold import LabelFold, Outcome
from tests.unit.lifecycle.synth import Stream, label, label_set, retract


def logits(model: OnlineClassifier, X: np.ndarray) -> np.ndarray:
    return model._learner.logits(X)  # the statistics, without the order-dependent calibration


def test_retract_and_correction_equal_never_having_learned() -> None:
    s = Stream(seed=1)
    events = s.events(60)
    probe, _ = s.sample(20)
    live = LabelFold(OnlineClassifier())
    for e in events:
        assert live.apply(e) == Outcome.LEARNED
    wrong = events[10]
    fix = label(wrong.item_id, "c0" if wrong.label != "c0" else "c1", wrong.embedding,
                retracts=wrong.event_id)
    assert live.apply(fix) == Outcome.REPLACED
    assert live.apply(retract(events[20])) == Outcome.RETRACTED
    assert live.apply(retract(events[20])) == Outcome.IGNORED  # redelivered: no second unlearn
    assert live.apply(fix) == Outcome.DUPLICATE
    assert live.apply(retract(events[10])) == Outcome.IGNORED  # not the current label any more

    clean = LabelFold(OnlineClassifier())
    for e in events:
        if e.item_id == wrong.item_id:
            clean.apply(fix)
        elif e is not events[20]:
            clean.apply(e)
    assert len(live) == len(clean) == 59
    assert live.label_of(wrong.item_id) == fix.label
    np.testing.assert_allclose(logits(live.model, probe), logits(clean.model, probe),
                               rtol=1e-7, atol=1e-7)


def test_label_set_changes_follow_the_items() -> None:
    s = Stream(k=3, seed=2)
    events = s.events(45)
    fold = LabelFold(OnlineClassifier())
    for e in events:
        fold.apply(e)
    assert fold.apply(label_set("rename", "c0", "zero")) == Outcome.LABEL_SET
    first_c0 = next(e for e in events if e.label == "c0")
    assert fold.label_of(first_c0.item_id) == "zero"
    # Retracting an item learned under the old name unlearns it from the renamed class.
    n_zero = fold.model.class_counts["zero"]
    assert fold.apply(retract(first_c0)) == Outcome.RETRACTED
    assert fold.model.class_counts["zero"] == n_zero - 1
    assert fold.apply(label_set("merge", "c1", "zero")) == Outcome.LABEL_SET
    assert sorted(fold.model.classes) == ["c2", "zero"]
    c1_item = next(e for e in events if e.label == "c1")
    assert fold.label_of(c1_item.item_id) == "zero"
    assert fold.apply(retract(c1_item)) == Outcome.RETRACTED
    assert fold.apply(label_set("retire", "c2")) == Outcome.LABEL_SET
    c2_item = next(e for e in events if e.label == "c2")
    assert fold.label_of(c2_item.item_id) is None
    assert fold.apply(retract(c2_item)) == Outcome.RETRACTED  # nothing left to unlearn: no error
    # A retired name used again is a new class, unrelated to the retired items.
    fresh = label("new-1", "c2", events[0].embedding)
    assert fold.apply(fresh) == Outcome.LEARNED
    assert fold.model.class_counts["c2"] == 1
    # A change to a label the model never learned is bookkeeping: its later labels follow it.
    assert fold.apply(label_set("rename", "nope", "x")) == Outcome.LABEL_SET
    assert fold.apply(label("late", "nope", events[1].embedding)) == Outcome.LEARNED
    assert fold.label_of("late") == "x" and fold.model.class_counts["x"] == 1
    assert fold.apply(label_set("rename", "c0", "c0")) == Outcome.IGNORED  # nothing to do


def test_the_item_map_is_compact_tuples() -> None:
    fold = LabelFold(OnlineClassifier())
    for e in Stream(seed=3).events(10):
        fold.apply(e)
    entry = next(iter(fold.items.values()))
    assert isinstance(entry, tuple) and len(entry) == 4
    assert [v[3] for v in fold.items.values()] == list(range(10))  # t: sequence numbers
