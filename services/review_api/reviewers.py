"""Per-reviewer statistics kept in the store (shared by every review API process).

Throughput (labels, today's count), reliability (leave-one-out agreement, consensus.py), and
agreement with the consensus as Cohen's kappa per reviewer plus Fleiss' kappa over all
multi-annotated items. Counters are KeyValue.incr and the registries of reviewer and label
names are sets (KeyValue.add_members, Redis SADD), so concurrent processes add up correctly:
no read-modify-write anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from pydantic import BaseModel, Field

from services.common.store import KeyValue
from services.review_api.consensus import Vote, accuracy, weight

DAY_TTL_S = 3 * 86_400
NAMES_KEY, LABELS_KEY = "rev:reviewers", "rev:label-names"  # sets
# JSON lists that versions before the sets wrote (read-modify-write, racy): still read, so an
# upgrade keeps every name recorded before it, never written again.
LEGACY_NAMES_KEY, LEGACY_LABELS_KEY = "rev:names", "rev:labels"


def today(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now or time.time()))


class ReviewerInfo(BaseModel):
    """One reviewer's throughput and agreement with the consensus."""

    reviewer: str = Field(description="The reviewer's name (their key's name)")
    labels: int = Field(description="Votes given, all time")
    today: int = Field(description="Votes given today (UTC)")
    consolidated: int = Field(description="Multi-annotated items this reviewer voted on")
    reliability: float = Field(description="Estimated probability of a correct label")
    weight: float = Field(description="Log-odds weight in consensus; 0 = ignored")
    kappa: float | None = Field(description="Cohen's kappa against the consensus")


class ReviewersOut(BaseModel):
    """Every reviewer's statistics and the inter-annotator agreement."""

    reviewers: list[ReviewerInfo] = Field(description="One entry per reviewer who voted")
    fleiss_kappa: float | None = Field(
        description="Fleiss' kappa over all multi-annotated items; null before any")
    items: int = Field(description="Multi-annotated items consolidated so far")


class ReviewerStats:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._known: set[str] = set()

    async def _num(self, key: str) -> float:
        return float(await self._kv.get(key) or b"0")

    async def _registry(self, key: str, legacy: str) -> list[str]:
        names = set(await self._kv.members(key))
        raw = await self._kv.get(legacy)
        return sorted(names | set(json.loads(raw))) if raw else sorted(names)

    async def _names(self) -> list[str]:
        return await self._registry(NAMES_KEY, LEGACY_NAMES_KEY)

    async def _remember(self, reviewer: str) -> None:
        if reviewer not in self._known:  # one SADD per reviewer and process
            await self._kv.add_members(NAMES_KEY, reviewer)
            self._known.add(reviewer)

    async def voted(self, reviewer: str) -> None:
        await self._remember(reviewer)
        await self._kv.incr(f"rev:{reviewer}:labels")
        await self._kv.incr(f"rev:{reviewer}:day:{today()}", ttl_s=DAY_TTL_S)

    async def unvoted(self, reviewer: str) -> None:
        """An undone vote no longer counts towards throughput."""
        await self._kv.incr(f"rev:{reviewer}:labels", -1.0)
        await self._kv.incr(f"rev:{reviewer}:day:{today()}", -1.0, ttl_s=DAY_TTL_S)

    async def today_count(self, reviewer: str) -> int:
        return int(await self._num(f"rev:{reviewer}:day:{today()}"))

    async def reliability(self, reviewers: Sequence[str], n_labels: int) -> dict[str, float]:
        return {r: accuracy(await self._num(f"rev:{r}:agree"), await self._num(f"rev:{r}:total"),
                            await self._num(f"rev:{r}:q"), n_labels) for r in reviewers}

    async def consolidated(self, votes: Sequence[Vote], consensus: str,
                           agreements: Sequence[tuple[str, bool, float]]) -> None:
        """Record one consolidated multi-annotated item."""
        for reviewer, agreed, q in agreements:
            await self._kv.incr(f"rev:{reviewer}:total")
            await self._kv.incr(f"rev:{reviewer}:agree", float(agreed))
            await self._kv.incr(f"rev:{reviewer}:q", q)
        labels = await self._labels()
        for v in votes:
            await self._kv.incr(f"rev:{v.reviewer}:n")
            await self._kv.incr(f"rev:{v.reviewer}:match", float(v.label == consensus))
            await self._kv.incr(f"rev:{v.reviewer}:mine:{v.label}")
            await self._kv.incr(f"rev:{v.reviewer}:cons:{consensus}")
        # Fleiss: per item P_i = (sum_j n_ij^2 - n) / (n (n - 1)); label totals for P_e.
        n = len(votes)
        counts: dict[str, int] = {}
        for v in votes:
            counts[v.label] = counts.get(v.label, 0) + 1
        if n > 1:
            await self._kv.incr("fleiss:items")
            await self._kv.incr("fleiss:sum_p", (sum(c * c for c in counts.values()) - n)
                                / (n * (n - 1)))
        new = sorted(set(counts) | {consensus} - set(labels))
        if new:
            await self._kv.add_members(LABELS_KEY, *new)
        for label, c in counts.items():
            await self._kv.incr("fleiss:votes", c)
            await self._kv.incr(f"fleiss:label:{label}", c)

    async def _labels(self) -> list[str]:
        return await self._registry(LABELS_KEY, LEGACY_LABELS_KEY)

    async def _kappa(self, reviewer: str, labels: list[str]) -> float | None:
        n = await self._num(f"rev:{reviewer}:n")
        if n == 0:
            return None
        po = await self._num(f"rev:{reviewer}:match") / n
        pe = 0.0
        for label in labels:
            pe += (await self._num(f"rev:{reviewer}:mine:{label}") / n) * (
                await self._num(f"rev:{reviewer}:cons:{label}") / n)
        return 1.0 if pe >= 1.0 else (po - pe) / (1.0 - pe)

    async def report(self, n_labels: int) -> ReviewersOut:
        labels = await self._labels()
        p = await self.reliability(names := await self._names(), n_labels)
        infos = [ReviewerInfo(
            reviewer=r, labels=int(await self._num(f"rev:{r}:labels")),
            today=await self.today_count(r), consolidated=int(await self._num(f"rev:{r}:n")),
            reliability=round(p[r], 4), weight=round(weight(p[r], max(n_labels, 2)), 4),
            kappa=await self._kappa(r, labels)) for r in names]
        items = await self._num("fleiss:items")
        fleiss = None
        total = await self._num("fleiss:votes")
        if items and total:
            p_bar = await self._num("fleiss:sum_p") / items
            p_e = 0.0
            for lab in labels:
                p_e += (await self._num(f"fleiss:label:{lab}") / total) ** 2
            fleiss = 1.0 if p_e >= 1.0 else (p_bar - p_e) / (1.0 - p_e)
        return ReviewersOut(reviewers=infos, fleiss_kappa=fleiss, items=int(items))
