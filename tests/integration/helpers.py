"""Workload helpers for the multi-process integration tests: data, a reviewer, observers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer

from services.common.bus.base import Record
from services.common.bus.kafka import KafkaBus
from services.common.settings import CommonSettings
from tests.helpers import CLASSES, eventually, metric, sample

__all__ = ["CLASSES", "Observer", "Reviewer", "eventually", "inject", "metric",
           "observer_settings", "sample"]

@dataclass
class Reviewer:
    """A simulated human: leases the next item and labels it with the true label."""

    url: str
    truth: dict[str, str]
    name: str = "sim"
    labeled: list[str] = field(default_factory=list)
    errors: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, client: httpx.AsyncClient) -> None:
        headers = {"X-Reviewer": self.name}
        while not self.stop.is_set():
            try:
                resp = await client.get(f"{self.url}/v1/review/next", headers=headers)
                if resp.status_code == 204:
                    await asyncio.sleep(0.1)
                    continue
                if resp.status_code != 200:
                    self.errors += 1
                    await asyncio.sleep(0.2)
                    continue
                item_id = resp.json()["item_id"]
                label = self.truth.get(item_id)
                if label is None:  # not ours (another test's item): give it back
                    await client.post(f"{self.url}/v1/review/{item_id}/skip", headers=headers)
                    continue
                ok = await client.post(f"{self.url}/v1/review/{item_id}/label",
                                       json={"label": label}, headers=headers)
                if ok.status_code == 200:
                    self.labeled.append(item_id)
                else:
                    self.errors += 1
            except httpx.HTTPError:  # a service being restarted: try again shortly
                self.errors += 1
                await asyncio.sleep(0.3)


@dataclass
class Observer:
    """Reads a topic from the beginning in a group of its own (from the test process)."""

    settings: CommonSettings
    topic: str
    records: list[Record] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        bus = KafkaBus(self.settings)
        consumer = bus.consumer([self.topic], f"observer-{uuid.uuid4().hex[:8]}")
        await consumer.start()
        try:
            while not stop.is_set():
                self.records += await consumer.poll(500, 0.2)
        finally:
            await consumer.stop()


def observer_settings(bootstrap: str, topic_prefix: str, rf: int = 1) -> CommonSettings:
    # The test's own readers use the broker's group protocol: one member each, never crashed.
    return CommonSettings(bus="kafka", kafka_bootstrap=bootstrap, topic_prefix=topic_prefix,
                          replication_factor=rf, min_insync_replicas=min(rf, 2),
                          instance_id=f"test-{uuid.uuid4().hex[:6]}")


async def inject(bootstrap: str, topic: str, value: bytes, key: bytes | None = None
                 ) -> tuple[int, int]:
    """Write raw bytes to a topic; (partition, offset) of the record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key)
        return meta.partition, meta.offset
    finally:
        await producer.stop()


async def group_members(bootstrap: str, group: str) -> tuple[str, list[set[int]]]:
    """The group's state and, per member, the partitions it was assigned (from the broker)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
        members = []
        for m in described["members"]:
            raw = m["member_assignment"]
            decoded = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
            members.append({tp.partition for tp in decoded.partitions()} if decoded else set())
        return described["state"], members
    finally:
        await admin.close()
