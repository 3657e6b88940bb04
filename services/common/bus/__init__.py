"""Bus contract and its implementations (in-process and Kafka)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.common.bus.base import Bus, Consumer, Record
from services.common.bus.memory import MemoryBus

if TYPE_CHECKING:
    from services.common.settings import CommonSettings

__all__ = ["Bus", "Consumer", "MemoryBus", "Record", "make_bus"]


def make_bus(settings: CommonSettings) -> Bus:
    if settings.bus == "memory":
        return MemoryBus(partitions=settings.partitions)
    from services.common.bus.kafka import KafkaBus  # imported lazily: aiokafka only when used

    return KafkaBus(settings)
