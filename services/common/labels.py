"""The governed label set, shared by the review API and app feedback.

Every label a human or an app sends goes through ``LabelGovernance.resolve``: trimmed, matched
case-insensitively (with case folding on) against the known labels, renamed labels mapped to
their new name, retired ones refused; in a fixed set an unknown label is refused with the valid
ones listed; in open mode a new label needs the admin role unless ``label_open`` allows it.
That is what stops a typo (``"Sports "``) from becoming a permanent class.

State lives in the store's key-value space, so every review API process and every scorer
replica apply the same rules: one JSON document (additions, renames, retirements; changed only
by admins, rarely) and one counter per label in use.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, Field

from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.schemas import LabelSetChange
from services.common.store import KeyValue

_SPACE = re.compile(r"\s+")
STATE_KEY = "labels:state"
COUNT_KEY = "labels:count:"


class LabelState(BaseModel):
    added: list[str] = Field(default_factory=list)  # created in open mode
    renamed: dict[str, str] = Field(default_factory=dict)  # old -> new
    retired: list[str] = Field(default_factory=list)


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


class LabelGovernance:
    def __init__(self, kv: KeyValue, fixed: list[str] | None, case_fold: bool = True,
                 open_new: bool = False) -> None:
        self._kv = kv
        self.case_fold = case_fold
        self.fixed = [self.clean(v) for v in fixed] if fixed else None
        self.open_new = open_new

    def clean(self, raw: str) -> str:
        """NFKC (full-width and compatibility forms), trim, collapse inner whitespace:
        ``" Sports  news "`` -> ``"Sports news"``."""
        return _SPACE.sub(" ", unicodedata.normalize("NFKC", raw)).strip()

    def _key(self, label: str) -> str:
        return label.casefold() if self.case_fold else label

    async def state(self) -> LabelState:
        raw = await self._kv.get(STATE_KEY)
        return LabelState.model_validate_json(raw) if raw else LabelState()

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
        state = await self.state()
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
        new = label.casefold() if self.case_fold else label
        state.added.append(new)
        await self._kv.set(STATE_KEY, state.model_dump_json().encode())
        return new

    async def count(self, label: str, delta: int) -> None:
        await self._kv.incr(COUNT_KEY + label, float(delta))

    async def _counts(self, labels: list[str]) -> dict[str, int]:
        return {label: int(float(await self._kv.get(COUNT_KEY + label) or b"0"))
                for label in labels}

    async def plan(self, op: Literal["rename", "merge", "retire"], label: str,
                   into: str | None) -> tuple[LabelSetChange, LabelState]:
        """An admin's change to the label set, checked, and the state after it (not saved: the
        review API saves it together with the change's label event, store/outbox.py)."""
        state = await self.state()
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
            renamed = {k: (target if v == source else v) for k, v in state.renamed.items()}
            renamed[source] = target
            state.renamed = {k: v for k, v in renamed.items() if k != v}  # A->B->A: plain A
        else:
            state.retired.append(source)
        return LabelSetChange(op=op, label=source, into=target), state

    async def applied(self, change: LabelSetChange) -> None:
        """After the state was saved: a renamed or merged label's count moves to its target."""
        if change.into is not None:
            moved = (await self._counts([change.label]))[change.label]
            await self.count(change.into, moved)
            await self.count(change.label, -moved)

    async def change(self, op: Literal["rename", "merge", "retire"], label: str,
                     into: str | None) -> LabelSetChange:
        """Plan, save and apply a change (callers that publish nothing: tests, tools)."""
        change, state = await self.plan(op, label, into)
        await self._kv.set(STATE_KEY, state.model_dump_json().encode())
        await self.applied(change)
        return change

    async def listing(self) -> LabelListing:
        state = await self.state()
        known = await self.known(state)
        counts = await self._counts(known + state.retired)
        configured = set(self.fixed or [])
        infos = [LabelInfo(label=k, count=counts[k], configured=k in configured) for k in known]
        infos += [LabelInfo(label=r, count=counts[r], configured=r in configured, retired=True)
                  for r in state.retired]
        return LabelListing(mode="fixed" if self.fixed is not None else "open",
                            case_fold=self.case_fold, labels=infos, renamed=state.renamed)
