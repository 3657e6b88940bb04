"""aiokafka options derived from CommonSettings, shared by producer, consumers and admin."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from services.common.bus.base import Record
from services.common.errors import BackendUnavailable
from services.common.settings import CommonSettings

T = TypeVar("T")
log = logging.getLogger(__name__)


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """Connection and security options; SASL/TLS settings are passed through unchanged."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": f"alstream-{settings.instance_id}",
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if settings.kafka_security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        opts["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        opts["sasl_plain_password"] = password.get_secret_value() if password else None
    return opts


def unavailable(settings: CommonSettings, what: str, exc: BaseException) -> BackendUnavailable:
    return BackendUnavailable(
        f"Kafka at {settings.kafka_bootstrap} is unreachable ({what}): {exc!r}"
    )


async def bounded(settings: CommonSettings, what: str, call: Awaitable[T],
                  timeout_s: float | None = None) -> T:
    """``call``, or ``BackendUnavailable`` once it took longer than ``timeout_s`` (default
    ``kafka_call_timeout_s``)."""
    limit = settings.kafka_call_timeout_s if timeout_s is None else timeout_s
    try:
        return await asyncio.wait_for(call, limit)
    except TimeoutError as exc:
        raise BackendUnavailable(
            f"Kafka at {settings.kafka_bootstrap} did not answer {what} within {limit:g} s"
        ) from exc


def join_timeout_s(settings: CommonSettings) -> float:
    """How long joining a group may take: other members get a session timeout (aiokafka's
    default rebalance timeout) to rejoin, and ours may wait out one failed round first."""
    return settings.kafka_call_timeout_s + 3 * settings.kafka_session_timeout_ms / 1000


async def stop_quietly(settings: CommonSettings, consumer: AIOKafkaConsumer, group: str) -> None:
    """Stop a consumer; a coordinator that never answers the leave must not hang shutdown."""
    try:
        await bounded(settings, f"leaving {group}", consumer.stop())
    except (KafkaError, BackendUnavailable) as exc:
        log.warning("consumer of %s did not stop cleanly: %r", group, exc)


async def fetch(consumer: AIOKafkaConsumer, timeout_s: float, max_records: int) -> list[Record]:
    """Records from ``getmany`` for up to ``timeout_s`` (the broker holds an empty fetch)."""
    return _records(await consumer.getmany(timeout_ms=int(timeout_s * 1000),
                                           max_records=max_records))


def _records(batches: dict[TopicPartition, list[Any]]) -> list[Record]:
    return [
        Record(m.topic, m.partition, m.offset,
               None if m.key is None else m.key.decode("utf-8", errors="replace"),
               m.value if m.value is not None else b"", m.timestamp)
        for msgs in batches.values() for m in msgs
    ]
