"""The labels topic folded into a model: every LabelEvent action, exactly and idempotently.

The labels topic is the model's log (one partition), so the trainer, replay and a pin's rebuild
all run this same fold over the same records in the same order and end with the same model.

Per item the fold keeps what it needs to unlearn that item's current label exactly:
``(event_id, label id, weight, t)``; ``t`` is the label's sequence number (label records learned
so far), which the learner's optional forgetting uses, so the unlearn passes the same ``t``.
Labels are interned as ids so a rename or merge relabels every item at once (the ids' names
change: O(label ids), not O(items)) and a retired label's items are known to be gone from the
model's statistics. An id's name is always a live class name of the model (``resolve`` of it
is itself) or None (retired), so unlearning never depends on the alias chain.

Rules (docs/lifecycle.md):
- ``label``: an event already current for its item is a redelivery: skipped. Otherwise the item's
  current label, if any, is unlearned first (one label per item; ``retracts`` names it when the
  review API made a correction), then the new one is learned.
- ``retract``: unlearns the item's current label only if its event id is ``retracts``.
- ``label_set``: rename / merge / retire through the model; the fold's label names follow.
  A change applies whether or not the label still holds records (all of a class's records
  undone: the model has no statistics for it, but the name still leads somewhere), so the
  outcome is that of learning the surviving records under the new label set.
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
            outcome = self._label_set(e)
            # Marked once applied, not before: a change that failed half-way must not pass
            # for a redelivery when the consumer retries it (it would be lost silently).
            self.dead.add(e.event_id)
            return outcome
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
        # A label sent under a name renamed or merged away meanwhile (a request that raced an
        # admin's change) lands where that name leads now; a retired name starts afresh.
        name = self.model.resolve(e.label) or e.label
        # Labels picked for being uncertain do not fit the model's confidence (issue 13).
        self.model.learn_one(e.embedding, name, weight=e.weight, t=self.t,
                             calibrate=calibrates(e.reason))
        self.items[e.item_id] = (e.event_id, self._intern(name), e.weight, self.t)
        self.t += 1
        return Outcome.LEARNED if current is None else Outcome.REPLACED

    def _label_set(self, e: LabelEvent) -> Outcome:
        change = e.change
        if change is None:
            return Outcome.IGNORED
        if change.op == "retire":
            self.model.retire_class(change.label)
        elif change.into is None or change.into == change.label:
            return Outcome.IGNORED
        elif change.op == "merge":
            self.model.merge_classes(change.label, change.into)
        else:
            self.model.rename_class(change.label, change.into)
        self._follow()
        return Outcome.LABEL_SET

    def _follow(self) -> None:
        """Every label id to the class that now holds its records (None: retired)."""
        self._names = [None if n is None else self.model.resolve(n) for n in self._names]
        self._ids = {}
        for label_id, name in enumerate(self._names):
            if name is not None:
                self._ids.setdefault(name, label_id)  # merged ids share a name: either will do
