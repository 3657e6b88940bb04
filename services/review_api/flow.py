"""What happens to a label: vote -> (consensus) -> the labels topic, and corrections of it.

The store decides atomically (a vote, a completed item, a compare-and-swap correction) and puts
the label event the topic must see in its outbox in the same step; this module builds those
events, flushes the outbox (services/common/outbox_relay.py), and keeps counts, reviewer
statistics and the audit trail. The labels topic is the model's log: only published labels
(k=1 votes, or consensus labels) and their corrections go there, never a pending vote.
"""

from __future__ import annotations

import hashlib
import time

from pydantic import BaseModel, Field

from services.common.auth import Principal, Role
from services.common.errors import Forbidden, NotFound
from services.common.labels import LabelGovernance
from services.common.outbox_relay import OutboxRelay
from services.common.schemas import LabelAction, LabelEvent, LabelSource, Reason, new_id, utcnow
from services.common.store import AuditRecord, Lease, Store, SubmitResult
from services.review_api.consensus import Vote, agreements, majority, weighted
from services.review_api.metrics import ReviewMetrics
from services.review_api.reviewers import ReviewerStats
from services.review_api.settings import ReviewSettings


class LabelOut(BaseModel):
    """Your label as recorded, and whether it reached the labels topic."""

    item_id: str = Field(description="The labelled item's id")
    label: str = Field(description="The label recorded (normalised)")
    event_id: str = Field(description="Your vote's event id: undo or correct by it")
    duplicate: bool = Field(description="The same label was already recorded under this lease")
    status: str = Field(description="published | pending (more votes needed) | reopened")
    published_event_id: str | None = Field(
        default=None, description="The event on the labels topic (the vote itself when k=1)")


class LabelFlow:
    def __init__(self, settings: ReviewSettings, relay: OutboxRelay, store: Store,
                 governance: LabelGovernance, metrics: ReviewMetrics) -> None:
        self.settings = settings
        self.relay = relay
        self.store = store
        self.governance = governance
        self.metrics = metrics
        self.reviewers = ReviewerStats(store.kv)

    def votes_needed(self, reason: Reason) -> int:
        s = self.settings
        return s.votes_needed if s.votes_scope == "all" or reason is Reason.AUDIT else 1

    async def audit(self, principal: Principal, action: str, **fields: object) -> None:
        record = AuditRecord(actor=principal.name, role=principal.role.value,
                             action=action, **fields)  # type: ignore[arg-type]
        await self.store.audit.append(record)

    async def publish(self) -> None:
        """Send what the store just put in the outbox. Should the bus fail, the event stays
        stored and the relay's loop publishes it later: the answer is the same either way."""
        await self.relay.send_soon()

    # -- votes ------------------------------------------------------------------------------
    async def label(self, principal: Principal, lease_id: str, raw: str) -> LabelOut:
        label = await self.governance.resolve(raw, admin=principal.role is Role.ADMIN)
        res = await self.store.queue.submit_label(lease_id, principal.name, label)
        vote = res.event
        if not res.duplicate:
            await self.reviewers.voted(principal.name)
            self.metrics.labels.labels(vote.reason.value).inc()
            self.metrics.reviewer_labels.labels(principal.name).inc()
            await self.audit(principal, "label", item_id=vote.item_id, lease_id=lease_id,
                             event_id=vote.event_id, label=label)
        out = LabelOut(item_id=vote.item_id, label=vote.label, event_id=vote.event_id,
                       duplicate=res.duplicate, status="pending")
        if res.complete:
            published = await self._finish(res)
            out.status = "published" if published else "reopened"
            out.published_event_id = published.event_id if published else None
        return out

    async def _finish(self, res: SubmitResult) -> LabelEvent | None:
        """Publish a completed item's label (consolidating k votes); None if reopened."""
        if res.current is not None:
            # k=1 (the store put the vote in the outbox), or a retry after consolidation (it is
            # there or on the topic already): flush, count only the first time.
            if len(res.votes) == 1 and not res.duplicate:
                await self.governance.count(res.current.label, +1)
            await self.publish()
            return res.current
        votes = [Vote(v.reviewer, v.label) for v in res.votes]
        n_labels = len(await self.governance.known()) or 2
        p = await self.reviewers.reliability([v.reviewer for v in votes], n_labels)
        outcome = (weighted(votes, p, n_labels) if self.settings.consensus == "reliability"
                   else majority(votes))
        first = res.votes[0]
        limit = self.votes_needed(first.reason) + self.settings.split_extra_votes
        if outcome.split and len(votes) < limit:
            item = await self.store.queue.get(first.item_id)
            base = item.priority if item else 0.0
            boosted = base + self.settings.split_priority_boost
            if await self.store.queue.reopen(first.item_id, len(votes), len(votes) + 1, boosted):
                self.metrics.reopened.inc()
                await self.store.audit.append(AuditRecord(
                    actor="consensus", action="reopen", item_id=first.item_id,
                    detail={"votes": len(votes), "share": round(outcome.share, 3)}))
            return None
        digest = hashlib.sha256("\n".join([first.item_id, *sorted(
            v.event_id for v in res.votes)]).encode()).hexdigest()[:32]
        event = first.model_copy(update={
            "event_id": digest, "label": outcome.label, "reviewer": "consensus",
            "source": LabelSource.CONSENSUS, "labeled_at": utcnow()})
        stored = await self.store.queue.set_current(first.item_id, event)  # + outbox, once
        if stored.event_id == event.event_id and not res.duplicate:
            await self.governance.count(stored.label, +1)
            await self.reviewers.consolidated(votes, stored.label,
                                              agreements(votes, p, n_labels))
            for reviewer, p_r in (await self.reviewers.reliability(
                    [v.reviewer for v in votes], n_labels)).items():
                self.metrics.reviewer_reliability.labels(reviewer).set(p_r)
            self.metrics.consolidated.inc()
            await self.store.audit.append(AuditRecord(
                actor="consensus", action="consensus", item_id=first.item_id,
                event_id=stored.event_id, label=stored.label,
                detail={"votes": len(votes), "share": round(outcome.share, 3),
                        "voters": ",".join(v.reviewer for v in votes)}))
        await self.publish()
        return stored

    # -- corrections ------------------------------------------------------------------------
    async def correct(self, principal: Principal, event_id: str,
                      raw: str | None) -> tuple[LabelEvent | None, Lease | None]:
        """Change (``raw``) or undo (None) a label by event id; returns (published, lease)."""
        record = await self.store.queue.find_label(event_id)
        if record is None:
            raise NotFound(f"no live label with event id {event_id!r} (unknown, or already "
                           "corrected or undone)")
        old = record.event
        # A consensus label belongs to no reviewer (even one whose key is named "consensus").
        own = old.reviewer == principal.name and old.source is not LabelSource.CONSENSUS
        admin = principal.role is Role.ADMIN
        if not own and not admin:
            raise Forbidden("only the label's own reviewer or an admin may correct it")
        age = time.time() - old.labeled_at.timestamp()
        if own and not admin and age > self.settings.correction_window_s:
            raise Forbidden(f"the correction window ({self.settings.correction_window_s:.0f} s) "
                            "has passed; ask an admin to correct this label")
        source = old.source if own else LabelSource.ADMIN
        action = "correct" if raw is not None else "undo"
        new: LabelEvent | None = None
        if raw is not None:
            label = await self.governance.resolve(raw, admin=admin)
            new = old.model_copy(update={
                "event_id": new_id(), "label": label, "reviewer": principal.name,
                "source": source, "labeled_at": utcnow(), "action": LabelAction.LABEL,
                "retracts": old.event_id if record.current else None})
        # Built before the change, so the store keeps it (if the label was published) in the
        # same atomic step: a crash after this line can no longer lose the retraction.
        topic_event = new or old.model_copy(update={
            "event_id": new_id(), "reviewer": principal.name, "source": source,
            "labeled_at": utcnow(), "action": LabelAction.RETRACT, "retracts": old.event_id})
        lease = await self.store.queue.replace_label(
            event_id, new, principal.name, self.settings.lease_ttl_s, publish=topic_event)
        await self.audit(principal, action, item_id=old.item_id, event_id=event_id,
                         label=new.label if new else old.label,
                         detail={"was": old.label, "new_event": new.event_id if new else None})
        self.metrics.corrections.labels(action).inc()
        if new is None and own and old.source is not LabelSource.CONSENSUS:
            await self.reviewers.unvoted(principal.name)
        if not record.current:
            return None, lease  # a pending vote: nothing was published, nothing to retract
        await self.governance.count(old.label, -1)
        if new is not None:
            await self.governance.count(new.label, +1)
        await self.publish()
        return topic_event, lease

