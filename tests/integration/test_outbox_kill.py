"""A review API process killed -9 between an undo's store change and its publish, on real Kafka
and Redis: the restarted process publishes the retraction, once (docs/reviewing.md, the outbox).

The broker is stopped while the undo is made, so the publish cannot happen before the kill; the
undo is acknowledged all the same (its retraction is stored with it), then the process dies.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import redis

from services.common.schemas import LabelEvent
from tests.fixtures.kafka import KafkaCluster
from tests.fixtures.redis import delete_prefix
from tests.integration.conftest import make_stack
from tests.integration.helpers import Observer, eventually, observer_settings
from tests.integration.test_review_durability import _depth, publish_requests

pytestmark = pytest.mark.integration


@pytest.mark.timeout(400)
async def test_a_killed_review_api_publishes_its_undo_after_restart(
    own_broker: KafkaCluster, redis_url: str, tmp_path: Path
) -> None:
    stack = make_stack(own_broker, redis_url, tmp_path / "logs", "outbox",
                       ALSTREAM_LEASE_TTL_S="120")
    api = stack.add("review-0", "review_api")
    stack.start_all()
    labels = Observer(observer_settings(own_broker.bootstrap, stack.topic_prefix),
                      f"{stack.topic_prefix}labels")
    try:
        await publish_requests(stack, 2)
        alice = stack.reviewer_headers("alice")
        async with httpx.AsyncClient(timeout=60, headers=stack.headers) as client:
            await eventually(lambda: _depth(client, api, 2), 60, what="2 queued items")
            item = (await client.post(f"{api.url}/v1/review/next", headers=alice)).json()
            first = await client.post(f"{api.url}/v1/review/leases/{item['lease_id']}/label",
                                      json={"label": "a"}, headers=alice)
            assert first.status_code == 200, first.text
            event_id = first.json()["event_id"]

            await asyncio.to_thread(own_broker.nodes[0].stop)
            undo = await client.post(f"{api.url}/v1/review/labels/{event_id}/undo",
                                     headers=alice)
            assert undo.status_code == 200, undo.text  # stored, with its retraction
            retract_id = undo.json()["published_event_id"]
            api.kill9()

            own_broker.nodes[0].start()
            await asyncio.to_thread(own_broker.wait_ready, 120.0, 1)
            api.start()
            await asyncio.to_thread(api.wait_healthy)

        stop = asyncio.Event()
        reader = asyncio.create_task(labels.run(stop))

        async def both_there() -> bool:
            return len(labels.records) >= 2

        try:
            await eventually(both_there, 90, what="the label and its retraction on the topic")
            await asyncio.sleep(3.0)  # a second copy would arrive now
        finally:
            stop.set()
            await reader
        events = [LabelEvent.model_validate_json(r.value) for r in labels.records]
        assert [e.event_id for e in events] == [event_id, retract_id]
        assert (events[1].action, events[1].retracts) == ("retract", event_id)
        raw = redis.Redis.from_url(redis_url)
        assert raw.xlen(f"{stack.redis_prefix}queue:outbox") == 0  # nothing left pending
        raw.close()
    finally:
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)
