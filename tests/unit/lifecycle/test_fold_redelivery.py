"""Late copies on the labels topic: the outbox publishes at least once, so a record can come
again after later records of its item (services/common/outbox_relay.py). The fold must end
with, and never pass through, a state the log without copies would not give."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from services.common.model import OnlineClassifier
from services.common.schemas import LabelEvent
from services.trainer.fold import LabelFold, Outcome
from tests.unit.lifecycle.synth import label, label_set, retract
from tests.unit.lifecycle.test_fold import logits

X = np.random.default_rng(0).normal(size=(8, 4))
EFFECTIVE = {Outcome.LEARNED, Outcome.REPLACED, Outcome.RETRACTED, Outcome.LABEL_SET}


def test_a_late_copy_of_a_corrected_label_is_not_learned_again() -> None:
    fold = LabelFold(OnlineClassifier())
    first = label("a", "c0", X[0])
    fix = label("a", "c1", X[0], retracts=first.event_id)
    assert [fold.apply(e) for e in (first, fix, first)] == [
        Outcome.LEARNED, Outcome.REPLACED, Outcome.DUPLICATE]
    assert fold.label_of("a") == "c1"
    undo = retract(fix)
    assert [fold.apply(e) for e in (undo, fix, first, undo)] == [
        Outcome.RETRACTED, Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.IGNORED]
    assert fold.label_of("a") is None and fold.model.n_learned == 0
    relabel = label("a", "c0", X[0])  # after an undo the item is labelled afresh
    assert [fold.apply(e) for e in (relabel, first, undo)] == [
        Outcome.LEARNED, Outcome.DUPLICATE, Outcome.IGNORED]
    assert fold.label_of("a") == "c0" and fold.model.n_learned == 1


def test_a_retraction_ahead_of_its_label_keeps_the_label_out() -> None:
    fold = LabelFold(OnlineClassifier())
    late = label("a", "c0", X[0])
    assert fold.apply(retract(late)) == Outcome.IGNORED
    assert fold.apply(late) == Outcome.DUPLICATE
    assert fold.model.n_learned == 0


def test_a_label_set_change_applies_once() -> None:
    fold = LabelFold(OnlineClassifier())
    fold.apply(label("a", "c0", X[0]))
    there, back = label_set("rename", "c0", "zero"), label_set("rename", "zero", "c0")
    assert [fold.apply(e) for e in (there, back, there)] == [
        Outcome.LABEL_SET, Outcome.LABEL_SET, Outcome.DUPLICATE]
    assert fold.label_of("a") == "c0"


def test_checkpoints_from_before_tombstones_restore_with_none() -> None:
    fold = LabelFold(OnlineClassifier())
    fold.apply(label("a", "c0", X[0]))
    del fold.dead  # the shape older checkpoints have
    restored = pickle.loads(pickle.dumps(fold))
    assert restored.dead == set() and restored.label_of("a") == "c0"
    assert restored.apply(label("a", "c1", X[0])) == Outcome.REPLACED


def history(rng: np.random.Generator, n: int) -> list[LabelEvent]:
    """Labels, corrections, undos, plain replacements and renames there and back (of c0 whether
    or not it holds records), over a few items: the order the store made them in (the order of
    the outbox)."""
    log: list[LabelEvent] = []
    current: dict[str, LabelEvent] = {}
    for _ in range(n):
        item = f"i{rng.integers(6)}"
        y, x = f"c{rng.integers(3)}", X[int(item[1:])]
        old, roll = current.get(item), rng.random()
        if roll < 0.05:  # also while c0 holds no records (all undone): bookkeeping only
            log += [label_set("rename", "c0", "zero"), label_set("rename", "zero", "c0")]
            continue
        if old is None:
            e = label(item, y, x)
        elif roll < 0.4:
            e = label(item, y, x, retracts=old.event_id)  # a correction
        elif roll < 0.7:
            e = retract(old)  # an undo
        else:
            e = label(item, y, x)  # another source's label for the same item (app feedback)
        current.pop(item, None)
        if e.action == "label":
            current[item] = e
        log.append(e)
    return log


def republished(log: list[LabelEvent], rng: np.random.Generator,
                relays: int) -> list[LabelEvent]:
    """What the labels topic can hold: the log once, plus copies from relays that (re)started
    at the oldest entry not yet marked done (anything from 0 up to what was already sent), and
    ran side by side with the others (a stalled relay whose lease expired)."""
    out: list[LabelEvent] = []
    active, started, sent = [0], 1, 0  # every entry before `sent` is on the topic already
    while active:
        if started < relays and rng.random() < 0.1:
            active.append(int(rng.integers(0, sent + 1)))
            started += 1
            continue
        k = int(rng.integers(len(active)))
        i = active[k]
        out.append(log[i])
        sent = max(sent, i + 1)
        if i + 1 == len(log):
            active.pop(k)
        else:
            active[k] = i + 1
    return out


def folded(events: list[LabelEvent]) -> tuple[LabelFold, Counter[Outcome]]:
    fold = LabelFold(OnlineClassifier())
    return fold, Counter(fold.apply(e) for e in events)


@pytest.mark.parametrize("seed", range(40))
def test_any_republished_topic_folds_like_the_log_itself(seed: int) -> None:
    rng = np.random.default_rng(seed)
    log = history(rng, 60)
    topic = republished(log, rng, relays=3)
    assert len(topic) > len(log) or seed % 10  # copies happen (checked on a few seeds)
    once, effects = folded(log)
    again, effects_again = folded(topic)
    # Only each record's first arrival changed the model: the copies changed nothing, so no
    # version published meanwhile held a label that had been corrected or undone.
    assert {o: effects_again[o] for o in EFFECTIVE} == {o: effects[o] for o in EFFECTIVE}
    assert {i: (e[0], again.label_of(i)) for i, e in again.items.items()} == {
        i: (e[0], once.label_of(i)) for i, e in once.items.items()}
    if once.items:
        np.testing.assert_allclose(logits(again.model, X), logits(once.model, X),
                                   rtol=1e-7, atol=1e-7)
