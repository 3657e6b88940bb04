"""Broker failures mid-stream on the multi-process stack, with zero loss (tests/integration/
failure.py counts). A short stream here; scripts/broker_failure.py runs 5,000 documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kafka import KafkaCluster, start_cluster
from tests.fixtures.redis import delete_prefix
from tests.fixtures.stack import Stack
from tests.helpers import sample
from tests.integration import failure
from tests.integration.conftest import make_stack

pytestmark = pytest.mark.integration
N_DOCS, RATE = 600, 15.0  # ~40 s of stream: long enough for two kills and restarts


def start_stack(cluster: KafkaCluster, redis_url: str, log_dir: Path, tag: str) -> Stack:
    stack = make_stack(cluster, redis_url, log_dir, tag)
    for name, kind in [("ingest-0", "ingest"), ("scorer-0", "scorer"),
                       ("review-0", "review_api"), ("trainer-0", "trainer")]:
        stack.add(name, kind)
    return stack.start_all()


@pytest.fixture
def three_brokers(tmp_path: Path) -> Iterator[KafkaCluster]:
    cluster = start_cluster(3, base_dir=tmp_path / "kafka", owns_dir=False)
    try:
        yield cluster
    finally:
        cluster.close()


def check(report: dict, stack: Stack, cluster: KafkaCluster) -> None:  # type: ignore[type-arg]
    print("\n" + json.dumps(report, indent=1))
    lost = (report["documents_unpredicted"], report["labels_not_on_topic"],
            report["labels_unlearned"], report["labels_learned_twice"])
    logs = "\n".join(s.log_tail(15) for s in stack.services.values())
    assert report["documents_acked"] == N_DOCS
    assert report["labels_acked"] >= 20, f"the reviewer was handed too few items\n{logs}"
    assert lost == (0, 0, 0, 0), f"lost or double-learned: {lost}\n{logs}\n{cluster.log_tail()}"


async def test_three_brokers_lose_nothing_when_a_leader_and_the_controller_die(
    three_brokers: KafkaCluster, redis_url: str, tmp_path: Path
) -> None:
    """RF 3, min ISR 2: kill -9 the labels partition's leader mid-stream, restart it, then the
    same for the active controller."""
    stack = start_stack(three_brokers, redis_url, tmp_path / "logs", "rf3")
    try:
        docs = sample("train", N_DOCS, seed=11, tag="rf3")
        report = await failure.run(stack, three_brokers, docs, RATE,
                                   failure.two_broker_kills, settle_s=240)
        check(report, stack, three_brokers)
    finally:
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)


async def test_single_broker_stop_and_start_loses_nothing(
    own_broker: KafkaCluster, redis_url: str, tmp_path: Path
) -> None:
    stack = start_stack(own_broker, redis_url, tmp_path / "logs", "rf1")
    try:
        docs = sample("train", N_DOCS, seed=12, tag="rf1")
        report = await failure.run(stack, own_broker, docs, RATE, failure.stop_and_start,
                                   settle_s=240)
        check(report, stack, own_broker)
    finally:
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)
