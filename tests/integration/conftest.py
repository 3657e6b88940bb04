"""Multi-process stacks for the integration tests (real Kafka broker, real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kafka import KafkaCluster, start_broker
from tests.fixtures.redis import delete_prefix, unique_prefix
from tests.fixtures.stack import Stack

# Short timings so crashes and expiries play out in seconds. Each service reads only the
# settings it knows (extra env vars are ignored).
FAST_ENV = {
    "ALSTREAM_PARTITIONS": "4",
    # A killed consumer's partitions move once the group coordinator misses its heartbeats.
    "ALSTREAM_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "ALSTREAM_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
    "ALSTREAM_LEASE_TTL_S": "3",  # review leases
    "ALSTREAM_STATS_INTERVAL_S": "0.5",
    "ALSTREAM_PUBLISH_EVERY_LABELS": "20",
    "ALSTREAM_PUBLISH_EVERY_S": "1",
    "ALSTREAM_MAX_LENGTH": "128",
    "ALSTREAM_LOG_LEVEL": "INFO",
    # Simulated reviewers (reviewer keys) bring the labels: let them create new ones, which a
    # governed label set otherwise leaves to admins (docs/reviewing.md).
    "ALSTREAM_LABEL_OPEN": "true",
}


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaCluster]:
    """A broker of the test's own, for tests that stop and start it (the session broker is
    shared by every other test)."""
    cluster = start_broker(tmp_path / "kafka")
    try:
        yield cluster
    finally:
        cluster.close()


def make_stack(broker: KafkaCluster, redis_url: str, log_dir: Path, tag: str,
               **extra: str) -> Stack:
    return Stack(
        bootstrap=broker.bootstrap, redis_url=redis_url, redis_prefix=unique_prefix(tag),
        topic_prefix=f"{tag}-{uuid.uuid4().hex[:8]}.", log_dir=log_dir,
        replication_factor=min(broker.size, 3), min_insync_replicas=min(broker.size, 2),
        extra_env={**FAST_ENV, **extra},
    )


def _five_process_stack(kafka_broker: KafkaCluster, redis_url: str,
                        tmp_path_factory: pytest.TempPathFactory, tag: str) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp(f"{tag}-stack-logs")
    stack = make_stack(kafka_broker, redis_url, log_dir, tag)
    # Two scorers in one consumer group: they split the partitions, and when one is killed
    # the other takes its partitions over after the session timeout.
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


@pytest.fixture(scope="session")
def full_stack(kafka_broker: KafkaCluster, redis_url: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """ingest, two scorers, review API and trainer, each its own process, started once."""
    yield from _five_process_stack(kafka_broker, redis_url, tmp_path_factory, "it")


@pytest.fixture(scope="module")
def lifecycle_stack(kafka_broker: KafkaCluster, redis_url: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same five processes for the lifecycle tests, which feed synthetic labels, pin
    versions and kill the trainer: kept apart from full_stack, whose tests measure accuracy
    on real labels."""
    yield from _five_process_stack(kafka_broker, redis_url, tmp_path_factory, "lc")
