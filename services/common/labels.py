"""The governed label set, shared by the review API and app feedback.

Every label a human or an app sends goes through ``LabelGovernance.resolve``: trimmed, matched
case-insensitively (with case folding on) against the known labels, renamed labels mapped to
their new name, retired ones refused; in a fixed set an unknown label is refused with the valid
ones listed; in open mode a new label needs the admin role unless ``label_open`` allows it.
That is what stops a typo (``"Sports "``) from becoming a permanent class.

State lives in the store's key-value space, so every review API process and every scorer
replica apply the same rules: one JSON document (additions, renames, retirements; changed only
by admins, rarely) and one counter per label in use.

The document is changed by compare-and-set only (``KeyValue.compare_and_set``, or the outbox's
``add`` with ``expect`` when an event goes with it): read it, plan the change on what was read,
write it only if the document is still what was read, else read again and plan again (the
change may now be refused: a label merged away meanwhile is 404). Two admins (or an admin and
a label created on first use) changing it at the same instant both land, in some order, and
each change's label_set event enters the outbox in that same step, so the outbox's order is
the order of ``changes`` (the event ids in the document).
"""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, Field

from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.schemas import (
    LabelAction,
    LabelEvent,
    LabelSetChange,
    LabelSource,
    Reason,
    new_id,
)
from services.common.store import KeyValue
from services.common.store.outbox import Outbox

_SPACE = re.compile(r"\s+")
STATE_KEY = "labels:state"
COUNT_KEY = "labels:count:"
ATTEMPTS = 12  # compare-and-set rounds before a change gives up with 409 (contention is rare)
Op = Literal["rename", "merge", "retire"]


class LabelState(BaseModel):
    added: list[str] = Field(default_factory=list)  # created in open mode
    renamed: dict[str, str] = Field(default_factory=dict)  # old -> new
    retired: list[str] = Field(default_factory=list)
    version: int = 0  # +1 per write, so a document never comes back to an earlier value
    changes: list[str] = Field(default_factory=list)  # label_set event ids, in order applied


class LabelInfo(BaseModel):
    """One label of the governed set."""

    label: str = Field(description="The label's name (normalised)")
    count: int = Field(description="Published labels of this class (corrections applied)")
    configured: bool = Field(description="In the configured label_set (false: added later)")
    retired: bool = Field(default=False, description="Retired: no longer accepted")


class LabelListing(BaseModel):
    """The governed label set: which labels reviewers and apps may use."""

    mode: Literal["fixed", "open"] = Field(description=(
        "fixed: only these labels are accepted; open: a new label is added on first use"))
    case_fold: bool = Field(description="Labels are matched case-insensitively")
    labels: list[LabelInfo] = Field(description="Every label, retired ones included")
    renamed: dict[str, str] = Field(
        description="Old name -> current name, for renamed and merged labels")


def known_elsewhere(state: LabelState, fixed: list[str] | None) -> set[str]:
    """Names the label set knows other than as a rename's target."""
    return {*(fixed or []), *state.added, *state.renamed.values()}


class LabelGovernance:
    """``outbox``: where a change's label_set event goes, in the same step as the document (the
    review API); without one the event is returned only (tests, tools)."""

    def __init__(self, kv: KeyValue, fixed: list[str] | None, case_fold: bool = True,
                 open_new: bool = False, outbox: Outbox | None = None) -> None:
        self._kv = kv
        self._outbox = outbox
        self.case_fold = case_fold
        self.fixed = [self.clean(v) for v in fixed] if fixed else None
        self.open_new = open_new
        self.retries = 0  # compare-and-set rounds lost to a concurrent writer (tests, ops)

    def clean(self, raw: str) -> str:
        """NFKC (full-width and compatibility forms), trim, collapse inner whitespace:
        ``" Sports  news "`` -> ``"Sports news"``."""
        return _SPACE.sub(" ", unicodedata.normalize("NFKC", raw)).strip()

    def _key(self, label: str) -> str:
        return label.casefold() if self.case_fold else label

    async def state(self) -> LabelState:
        return (await self._read())[1]

    async def _read(self) -> tuple[bytes | None, LabelState]:
        raw = await self._kv.get(STATE_KEY)
        return raw, LabelState.model_validate_json(raw) if raw else LabelState()

    async def _write(self, before: bytes | None, state: LabelState,
                     event: LabelEvent | None = None) -> bool:
        """The new document if the stored one is still ``before``, with ``event`` into the
        outbox in the same step; False (nothing written) if another writer came first."""
        state.version += 1
        raw = state.model_dump_json().encode()
        if event is not None and self._outbox is not None:
            ok = await self._outbox.add([event], marks={STATE_KEY: raw}, expect={STATE_KEY: before})
        else:
            ok = await self._kv.compare_and_set(STATE_KEY, before, raw)
        if not ok:
            self.retries += 1
        return ok

    async def _backoff(self, attempt: int) -> None:
        # Jittered, so two writers that keep colliding drift apart.
        await asyncio.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))

    async def known(self, state: LabelState | None = None) -> list[str]:
        """Labels a caller may use now: configured or added, renamed, minus the retired."""
        state = state or await self.state()
        names = list(self.fixed or []) + state.added + list(state.renamed.values())
        out: list[str] = []
        for name in names:
            if name not in state.retired and name not in state.renamed and name not in out:
                out.append(name)
        return out

    async def resolve(self, raw: str, *, admin: bool) -> str:
        """The canonical label for ``raw``, or InvalidInput (422) with the reason."""
        label = self.clean(raw)
        if not label:
            raise InvalidInput("the label is empty")
        for attempt in range(ATTEMPTS):
            before, state = await self._read()
            out = await self._resolve(label, state, admin=admin)
            if isinstance(out, str):
                return out
            if await self._write(before, out):  # a label created on first use
                return out.added[-1]
            await self._backoff(attempt)
        raise Conflict(f"the label set kept changing while adding {label!r}; try again")

    async def _resolve(self, label: str, state: LabelState, *, admin: bool) -> str | LabelState:
        """The canonical label, or the state with ``label`` added (still to be written)."""
        known = await self.known(state)
        by_key = {self._key(k): k for k in known}
        renamed = {self._key(old): new for old, new in state.renamed.items()}
        key = self._key(label)
        if key in renamed:
            return renamed[key]
        if key in by_key:
            return by_key[key]
        if key in {self._key(r) for r in state.retired}:
            raise InvalidInput(f"label {label!r} was retired; valid labels: {sorted(known)}")
        if self.fixed is not None:
            raise InvalidInput(f"unknown label {label!r}; valid labels: {sorted(known)}")
        if not (admin or self.open_new):
            raise InvalidInput(
                f"unknown label {label!r}: new labels need the admin role; "
                f"valid labels: {sorted(known)}")
        state.added.append(label.casefold() if self.case_fold else label)
        return state

    async def count(self, label: str, delta: int) -> None:
        await self._kv.incr(COUNT_KEY + label, float(delta))

    async def _counts(self, labels: list[str]) -> dict[str, int]:
        return {label: int(float(await self._kv.get(COUNT_KEY + label) or b"0"))
                for label in labels}

    async def plan(self, state: LabelState, op: Op, label: str,
                   into: str | None) -> LabelSetChange:
        """An admin's change to the label set, checked against ``state``, which it changes
        (not saved: ``change`` saves it)."""
        known = await self.known(state)
        by_key = {self._key(k): k for k in known}
        source = by_key.get(self._key(self.clean(label)))
        # State-dependent refusals are 404/409, not 422: the body itself is valid.
        if source is None:
            raise NotFound(f"unknown label {label!r}; valid labels: {sorted(known)}")
        target: str | None = None
        if op in ("rename", "merge"):
            if not into or not self.clean(into):
                raise InvalidInput(f"{op} needs 'into'")
            target = by_key.get(self._key(self.clean(into)))
            if op == "rename" and target == source and self.clean(into) != source:
                target = None  # a new spelling of the same label ("sports" -> "Sports")
            if op == "rename" and target is not None and target != source:
                raise Conflict(f"label {target!r} exists already; merge into it instead")
            if op == "merge" and target is None:
                raise NotFound(f"merge target {into!r} is not a label; rename instead")
            if target == source:
                raise Conflict("a label cannot be merged into itself")
            target = target or self.clean(into)
            # A rename onto a name renamed away or retired earlier makes it a live name again
            # (as the model's rename_class does): otherwise it would still lead elsewhere.
            live = self._key(target)
            for old, then in list(state.renamed.items()):
                if self._key(old) == live:
                    del state.renamed[old]
                    if then not in known_elsewhere(state, self.fixed):
                        state.added.append(then)  # known through this entry only: keep it
            state.retired = [r for r in state.retired if self._key(r) != live]
            renamed = {k: (target if v == source else v) for k, v in state.renamed.items()}
            renamed[source] = target
            state.renamed = {k: v for k, v in renamed.items() if k != v}  # A->B->A: plain A
        else:
            state.retired.append(source)
        return LabelSetChange(op=op, label=source, into=target)

    async def change(self, op: Op, label: str, into: str | None,
                     actor: str = "admin") -> tuple[LabelSetChange, LabelEvent]:
        """Plan and save a change, and its label_set event (into the outbox with the document,
        when there is one); 409 if concurrent writers won every round."""
        for attempt in range(ATTEMPTS):
            before, state = await self._read()
            change = await self.plan(state, op, label, into)  # 404/409/422 on what is now
            event_id = new_id()
            # On the labels topic, in log order with the labels: the trainer relabels its
            # statistics exactly where the change happened.
            event = LabelEvent(
                event_id=event_id, item_id=f"label-set:{event_id}", label=change.label,
                embedding=[], reviewer=actor, reason=Reason.UNCERTAINTY,
                action=LabelAction.LABEL_SET, source=LabelSource.ADMIN, change=change)
            state.changes.append(event_id)
            if await self._write(before, state, event):
                await self._move_counts()
                return change, event
            await self._backoff(attempt)
        raise Conflict(f"the label set kept changing while applying {op} {label!r} "
                       f"({ATTEMPTS} attempts); try again")

    async def _move_counts(self) -> None:
        """Counts of renamed and merged labels to the label they lead to now, as the stored
        document says (each move is atomic, so two admins never move a count twice): the
        counts end right whatever order concurrent changes finish in, and a correction counted
        under an old name since is swept along."""
        for old, target in (await self.state()).renamed.items():
            await self._kv.transfer(COUNT_KEY + old, COUNT_KEY + target)

    async def listing(self) -> LabelListing:
        state = await self.state()
        known = await self.known(state)
        counts = await self._counts(known + state.retired)
        for old, new in state.renamed.items():  # counted under an old name, not moved yet
            if new in counts:
                counts[new] += (await self._counts([old]))[old]
        configured = set(self.fixed or [])
        infos = [LabelInfo(label=k, count=counts[k], configured=k in configured) for k in known]
        infos += [LabelInfo(label=r, count=counts[r], configured=r in configured, retired=True)
                  for r in state.retired]
        return LabelListing(mode="fixed" if self.fixed is not None else "open",
                            case_fold=self.case_fold, labels=infos, renamed=state.renamed)
