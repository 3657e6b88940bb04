"""Review API crashes and Redis crashes: leases come back, acknowledged labels stay.

Each test runs its own review API process (no scorer needed: review requests are published
straight onto the bus), so it is cheap to kill and restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from services.common.bus.kafka import KafkaBus
from services.common.schemas import Reason, ReviewRequest
from tests.fixtures.kafka import KafkaCluster
from tests.fixtures.redis import RedisServer, delete_prefix
from tests.fixtures.stack import ServiceProcess, Stack
from tests.integration.conftest import make_stack
from tests.integration.helpers import eventually, observer_settings

pytestmark = pytest.mark.integration
# Review leases must outlive the API's restart: the new process joins the review-requests
# group only after the coordinator expired the killed member (one 6 s session timeout).
TTL_S = 12.0


def request(i: int) -> ReviewRequest:
    return ReviewRequest(item_id=f"item-{i}", text=f"text {i}", embedding=[0.1, 0.2, 0.3],
                         priority=1.0 - i / 1000, reason=Reason.UNCERTAINTY,
                         predicted_label="a")


async def publish_requests(stack: Stack, n: int) -> None:
    settings = observer_settings(stack.bootstrap, stack.topic_prefix)
    bus = KafkaBus(settings)
    await bus.start()
    await bus.ensure_topics(settings.topics)
    try:
        await bus.publish_many(settings.topics.review_requests,
                               [(f"item-{i}", request(i)) for i in range(n)])
    finally:
        await bus.stop()


async def stats(client: httpx.AsyncClient, api: ServiceProcess) -> dict:  # type: ignore[type-arg]
    return (await client.get(f"{api.url}/v1/review/stats")).json()  # type: ignore[no-any-return]


@pytest.fixture
def review_stack(kafka_broker: KafkaCluster, redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    stack = make_stack(kafka_broker, redis_url, tmp_path, "review",
                       ALSTREAM_LEASE_TTL_S=str(TTL_S))
    stack.add("review-0", "review_api")
    try:
        yield stack.start_all()
    finally:
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)


async def test_review_api_crash_keeps_labels_and_returns_leases(review_stack: Stack) -> None:
    api = review_stack["review-0"]
    await publish_requests(review_stack, 5)
    alice, bob = review_stack.reviewer_headers("alice"), review_stack.reviewer_headers("bob")
    async with httpx.AsyncClient(timeout=10, headers=review_stack.headers) as client:
        await eventually(lambda: _depth(client, api, 5), 30, what="5 queued items")
        leased = [(await client.get(f"{api.url}/v1/review/next", headers=alice)).json()["item_id"]
                  for _ in range(3)]
        assert leased == ["item-0", "item-1", "item-2"]  # highest priority first
        first = await client.post(f"{api.url}/v1/review/item-0/label", json={"label": "a"},
                                  headers=alice)
        assert first.status_code == 200

        api.kill9()  # item-1 and item-2 are leased to alice right now
        api.start()
        await asyncio.to_thread(api.wait_healthy)

        s = await stats(client, api)
        assert (s["labeled"], s["leased"], s["depth"]) == (1, 2, 2)  # state survived
        again = await client.post(f"{api.url}/v1/review/item-0/label", json={"label": "a"},
                                  headers=alice)
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["event_id"] == first.json()["event_id"]

        # While alice's leases live, bob gets only the unleased items...
        got = [(await client.get(f"{api.url}/v1/review/next", headers=bob)).json()["item_id"]
               for _ in range(2)]
        assert got == ["item-3", "item-4"]
        assert (await client.get(f"{api.url}/v1/review/next", headers=bob)).status_code == 204
        # ...and once they expire, alice's items come back, in priority order.
        await asyncio.sleep(TTL_S + 0.5)
        back = []
        for _ in range(5):
            resp = await client.get(f"{api.url}/v1/review/next", headers=bob)
            if resp.status_code == 200:
                back.append(resp.json()["item_id"])
        assert back[:2] == ["item-1", "item-2"]
        late = await client.post(f"{api.url}/v1/review/item-1/label", json={"label": "a"},
                                 headers=alice)
        assert late.status_code == 409  # alice's lease is gone; bob holds the item now


async def _depth(client: httpx.AsyncClient, api: ServiceProcess, n: int) -> bool:
    try:
        return bool((await stats(client, api))["depth"] == n)
    except httpx.HTTPError:
        return False


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


async def test_redis_crash_loses_no_acknowledged_label(
    kafka_broker: KafkaCluster, aof_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis with appendonly + appendfsync always, killed -9 mid-labeling and started again."""
    stack = make_stack(kafka_broker, aof_redis.url, tmp_path, "aof")
    api = stack.add("review-0", "review_api")
    stack.start_all()
    n = 40
    acked: dict[str, str] = {}  # item -> event_id of the acknowledged label
    refused = 0
    try:
        await publish_requests(stack, n)
        headers = stack.reviewer_headers("carol")
        async with httpx.AsyncClient(timeout=10, headers=stack.headers) as client:
            await eventually(lambda: _depth(client, api, n), 30, what="queued items")
            crashed = False
            while len(acked) < n:
                if len(acked) == 15 and not crashed:
                    aof_redis.kill9()
                    await asyncio.sleep(0.5)
                    aof_redis.start()  # same directory, same AOF
                    crashed = True
                try:
                    nxt = await client.get(f"{api.url}/v1/review/next", headers=headers)
                    if nxt.status_code != 200:
                        refused += 1
                        await asyncio.sleep(0.2)
                        continue
                    item = nxt.json()["item_id"]
                    resp = await client.post(f"{api.url}/v1/review/{item}/label",
                                             json={"label": "a"}, headers=headers)
                except httpx.HTTPError:
                    refused += 1
                    continue
                if resp.status_code == 200:
                    acked[item] = resp.json()["event_id"]
                else:
                    refused += 1
            assert crashed
            # Every acknowledged label is still there, as the same event.
            for item, event_id in acked.items():
                again = await client.post(f"{api.url}/v1/review/{item}/label",
                                          json={"label": "a"}, headers=headers)
                assert again.status_code == 200, again.text
                assert again.json()["duplicate"] is True
                assert again.json()["event_id"] == event_id
            assert (await stats(client, api))["labeled"] == n
        raw = redis.Redis.from_url(aof_redis.url)
        assert raw.hlen(f"{stack.redis_prefix}queue:labeled") == n
        raw.close()
        print(f"\n{n} labels acknowledged across a Redis kill -9; {refused} requests refused "
              "while Redis was down")
    finally:
        stack.stop_all()
