"""The labels topic folded into a model: every LabelEvent action, exactly and idempotently.

The labels topic is the model's log (one partition), so the trainer, replay and a pin's rebuild
all run this same fold over the same records in the same order and end with the same model.

Per item the fold keeps what it needs to unlearn that item's current label exactly:
``(event_id, label id, weight, t)``; ``t`` is the label's sequence number (label records learned
so far), which the learner's optional forgetting uses, so the unlearn passes the same ``t``.
Labels are interned as ids so a rename or merge relabels every item in O(1) (the id's name
changes) and a retired label's items are known to be gone from the model's statistics.

Rules (docs/lifecycle.md):
- ``label``: an event already current for its item is a redelivery: skipped. Otherwise the item's
  current label, if any, is unlearned first (one label per item; ``retracts`` names it when the
  review API made a correction), then the new one is learned.
- ``retract``: unlearns the item's current label only if its event id is ``retracts``.
- ``label_set``: rename / merge / retire through the model; the fold's label names follow.
- an event that was retracted, or replaced by another label of its item, is dead, and so is a
  label-set change once applied: a copy that arrives later (the labels outbox publishes at
  least once, services/common/outbox_relay.py) is a redelivery too, never applied again.
  Without this, a late copy of a corrected label would replace its correction until the next
  copy of the correction came by.
"""

from __future__ import annotations

from enum import StrEnum

from services.common.model import OnlineClassifier
from services.common.schemas import LabelAction, LabelEvent
from services.common.selection.base import calibrates

# (event_id, label id, weight, t): a tuple, the most compact Python record (checkpoint size).
Entry = tuple[str, int, float, int]


class Outcome(StrEnum):
    LEARNED = "learned"  # a new label for an unlabelled item
    REPLACED = "replaced"  # the item's previous label unlearned, this one learned
    RETRACTED = "retracted"  # the item's label unlearned
    LABEL_SET = "label_set"  # rename / merge / retire applied
    DUPLICATE = "duplicate"  # already applied (redelivery): nothing changed
    IGNORED = "ignored"  # nothing to do (a retract of a label that is not current)


class LabelFold:
    def __init__(self, model: OnlineClassifier) -> None:
        self.model = model
        self.items: dict[str, Entry] = {}
        self.t = 0  # label records learned so far: the sequence number of the next one
        self._names: list[str | None] = []  # label id -> current name (None: retired)
        self._ids: dict[str, int] = {}  # live name -> label id
        # Event ids retracted or replaced, and label-set changes applied (tombstones). Grows with
        # corrections and admin changes only, not with labels.
        self.dead: set[str] = set()

    def __setstate__(self, state: dict[str, object]) -> None:
        # Checkpoints written before tombstones existed restore with none.
        self.__dict__.update(state)
        self.__dict__.setdefault("dead", set())

    def __len__(self) -> int:
        return len(self.items)

    def label_of(self, item_id: str) -> str | None:
        entry = self.items.get(item_id)
        return None if entry is None else self._names[entry[1]]

    def _intern(self, name: str) -> int:
        if name not in self._ids:
            self._ids[name] = len(self._names)
            self._names.append(name)
        return self._ids[name]

    def redelivered(self, e: LabelEvent) -> bool:
        """A label already applied: current for its item, or retracted or replaced since."""
        current = self.items.get(e.item_id)
        return (current is not None and current[0] == e.event_id) or e.event_id in self.dead

    def _unlearn(self, item_id: str, x: list[float]) -> None:
        event_id, label_id, weight, t = self.items.pop(item_id)
        self.dead.add(event_id)
        name = self._names[label_id]
        if name is not None:  # a retired label's statistics are already gone
            self.model.unlearn_one(x, name, weight=weight, t=t)

    def apply(self, e: LabelEvent) -> Outcome:
        if e.action == LabelAction.LABEL_SET:
            # A rename A->B, B->A, then a late copy of the first would rename A again.
            if e.event_id in self.dead:
                return Outcome.DUPLICATE
            self.dead.add(e.event_id)
            return self._label_set(e)
        current = self.items.get(e.item_id)
        if e.action == LabelAction.RETRACT:
            if current is None or current[0] != e.retracts:
                if e.retracts:  # arrived before its label: that label must not count later
                    self.dead.add(e.retracts)
                return Outcome.IGNORED
            self._unlearn(e.item_id, e.embedding)
            return Outcome.RETRACTED
        if self.redelivered(e):
            return Outcome.DUPLICATE
        if e.retracts:
            self.dead.add(e.retracts)
        if current is not None:
            self._unlearn(e.item_id, e.embedding)
        # Labels picked for being uncertain do not fit the model's confidence (issue 13).
        self.model.learn_one(e.embedding, e.label, weight=e.weight, t=self.t,
                             calibrate=calibrates(e.reason))
        self.items[e.item_id] = (e.event_id, self._intern(e.label), e.weight, self.t)
        self.t += 1
        return Outcome.LEARNED if current is None else Outcome.REPLACED

    def _label_set(self, e: LabelEvent) -> Outcome:
        change = e.change
        if change is None or change.label not in self._ids:
            return Outcome.IGNORED  # unknown to the model (e.g. a label never learned)
        src = self._ids[change.label]
        if change.op == "retire":
            self.model.retire_class(change.label)
            self._names[src] = None
            del self._ids[change.label]
            return Outcome.LABEL_SET
        if change.into is None or change.into == change.label:
            return Outcome.IGNORED
        if change.into not in self._ids:  # rename, or a merge into a label not yet learned
            self.model.rename_class(change.label, change.into)
            self._names[src] = change.into
            del self._ids[change.label]
            self._ids[change.into] = src
            return Outcome.LABEL_SET
        # merge, or a rename onto a label that exists (the same thing for the statistics)
        self.model.merge_classes(change.label, change.into)
        self._names[src] = change.into  # the merged items now unlearn from `into`
        del self._ids[change.label]
        return Outcome.LABEL_SET
