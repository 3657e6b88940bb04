"""Multi-process stacks for the integration tests (real noida-db broker, real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kafka import NoidaKafka
from tests.fixtures.redis import delete_prefix, unique_prefix
from tests.fixtures.stack import Stack

# Short timings so crashes and expiries play out in seconds. Each service reads only the
# settings it knows (extra env vars are ignored).
FAST_ENV = {
    "ALSTREAM_PARTITIONS": "4",
    "ALSTREAM_KAFKA_LEASE_TTL_MS": "3000",  # a killed consumer's partitions move after 3 s
    "ALSTREAM_LEASE_TTL_S": "3",  # review leases
    "ALSTREAM_STATS_INTERVAL_S": "0.5",
    "ALSTREAM_PUBLISH_EVERY_LABELS": "20",
    "ALSTREAM_PUBLISH_EVERY_S": "1",
    "ALSTREAM_MAX_LENGTH": "128",
    "ALSTREAM_LOG_LEVEL": "INFO",
}


def make_stack(broker: NoidaKafka, redis_url: str, log_dir: Path, tag: str,
               **extra: str) -> Stack:
    return Stack(
        bootstrap=broker.bootstrap, redis_url=redis_url, redis_prefix=unique_prefix(tag),
        topic_prefix=f"{tag}-{uuid.uuid4().hex[:8]}.", log_dir=log_dir,
        extra_env={**FAST_ENV, **extra},
    )


@pytest.fixture(scope="session")
def full_stack(kafka_broker: NoidaKafka, redis_url: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """ingest, two scorers, review API and trainer, each its own process, started once."""
    log_dir = tmp_path_factory.mktemp("stack-logs")
    stack = make_stack(kafka_broker, redis_url, log_dir, "it")
    # Two scorers in one consumer group: they split the partitions, and when one is killed
    # the other takes its partitions over after the lease TTL.
    for name, kind in [("ingest-0", "ingest"), ("scorer-0", "scorer"), ("scorer-1", "scorer"),
                       ("review-0", "review_api"), ("trainer-0", "trainer")]:
        stack.add(name, kind)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)
        print(f"\nstack logs: {log_dir}")
