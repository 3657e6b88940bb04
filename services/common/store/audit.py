"""An append-only audit trail: who did what to which item, and when.

Records are only ever appended (Redis RPUSH, store/redis_audit.py; a list in memory) and read
back per item or per actor, newest last. Nothing in alstream updates or deletes them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

Action = Literal["lease", "label", "skip", "correct", "undo", "consensus", "reopen", "feedback",
                 "label_set"]


class AuditRecord(BaseModel):
    """One thing a caller did to an item or the label set: who, what, when."""

    at: float = Field(default_factory=time.time, description="Unix seconds")
    actor: str = Field(description="Who: the key owner's name (reviewer, app or admin)")
    role: str = Field(default="", description="The caller's role")
    action: Action = Field(description="What was done")
    item_id: str | None = Field(default=None, description="The item acted on, if any")
    lease_id: str | None = Field(default=None, description="The lease it was done under")
    event_id: str | None = Field(default=None, description="The label event it produced")
    label: str | None = Field(default=None, description="The label given or changed")
    detail: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Action-specific facts (e.g. a change's op and into)")


class AuditLog(ABC):
    @abstractmethod
    async def append(self, record: AuditRecord) -> None: ...

    @abstractmethod
    async def by_item(self, item_id: str, limit: int = 100) -> list[AuditRecord]:
        """The newest ``limit`` records about an item, oldest first."""

    @abstractmethod
    async def by_actor(self, actor: str, limit: int = 100) -> list[AuditRecord]: ...


class MemoryAuditLog(AuditLog):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._items: dict[str, list[AuditRecord]] = {}
        self._actors: dict[str, list[AuditRecord]] = {}

    async def append(self, record: AuditRecord) -> None:
        if record.item_id is not None:
            self._items.setdefault(record.item_id, []).append(record)
        self._actors.setdefault(record.actor, []).append(record)

    async def by_item(self, item_id: str, limit: int = 100) -> list[AuditRecord]:
        return self._items.get(item_id, [])[-limit:]

    async def by_actor(self, actor: str, limit: int = 100) -> list[AuditRecord]:
        return self._actors.get(actor, [])[-limit:]
