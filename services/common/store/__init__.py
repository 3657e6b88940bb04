"""Store contract and its implementations (in-memory and Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.common.store.audit import AuditLog, AuditRecord
from services.common.store.base import (
    KeyValue,
    LabelRecord,
    Lease,
    ModelRecord,
    ModelRegistry,
    QueueStats,
    Rescore,
    ReviewQueue,
    ServingState,
    Store,
    SubmitResult,
)
from services.common.store.memory import MemoryStore

if TYPE_CHECKING:
    from services.common.settings import CommonSettings

__all__ = [
    "AuditLog", "AuditRecord", "KeyValue", "LabelRecord", "Lease", "MemoryStore", "ModelRecord",
    "ModelRegistry", "QueueStats", "Rescore", "ReviewQueue", "ServingState", "Store",
    "SubmitResult", "make_store",
]


def make_store(settings: CommonSettings) -> Store:
    items, age = settings.lineage_max_items, settings.lineage_max_age_s
    if settings.store == "memory":
        return MemoryStore(lineage_max_items=items, lineage_max_age_s=age)
    from services.common.store.redis import RedisStore  # lazily: redis only when used

    return RedisStore(settings.redis_url, prefix=settings.redis_prefix,
                      lineage_max_items=items, lineage_max_age_s=age)
