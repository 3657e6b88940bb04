"""Broker failures under load, counted: shared by tests/integration/test_broker_failure.py (a
short stream) and scripts/broker_failure.py (the 5,000-document run).

A feeder posts documents to ingest at a steady rate and retries until each batch is
acknowledged (202); a reviewer labels what the review API hands out, retrying a label until it
is acknowledged (200); a disruption script kills and restarts brokers meanwhile. Afterwards we
count what was acknowledged but never arrived: documents without a prediction, labels the
trainer did not learn. Duplicates (at-least-once redeliveries) are reported, not failures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.bus.base import Record
from services.common.schemas import LabelEvent, Prediction
from tests.fixtures.kafka import KafkaCluster
from tests.fixtures.stack import Stack
from tests.integration.helpers import Observer, observer_settings


@dataclass
class Progress:
    topic_prefix: str
    started: float = field(default_factory=time.monotonic)
    acked_docs: list[str] = field(default_factory=list)
    acked_labels: dict[str, str] = field(default_factory=dict)  # item id -> event id
    ingest_errors: int = 0
    worst_ingest_s: float = 0.0
    review_errors: int = 0
    review_refusals: Counter[int] = field(default_factory=Counter)  # status of failed labels
    events: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:7.1f}s  {what}")


async def feed(url: str, docs: list[tuple[str, str, str]], rate: float, p: Progress,
               headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        for start in range(0, len(docs), 10):
            t0 = time.monotonic()
            chunk = docs[start : start + 10]
            body = {"documents": [{"id": i, "text": t} for i, t, _ in chunk]}
            while True:  # a client retries until the batch is acknowledged
                try:
                    sent = time.monotonic()
                    resp = await client.post(f"{url}/v1/documents", json=body)
                    p.worst_ingest_s = max(p.worst_ingest_s, time.monotonic() - sent)
                    if resp.status_code == 202:
                        break
                except httpx.HTTPError:
                    pass
                p.ingest_errors += 1
                await asyncio.sleep(0.5)
            p.acked_docs += [i for i, _, _ in chunk]
            await asyncio.sleep(max(0.0, len(chunk) / rate - (time.monotonic() - t0)))


async def review(url: str, truth: dict[str, str], p: Progress, stop: asyncio.Event,
                 headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            try:
                resp = await client.post(f"{url}/v1/review/next", headers=headers)
                if resp.status_code != 200:
                    await asyncio.sleep(0.1 if resp.status_code == 204 else 0.5)
                    continue
                item, lease = resp.json()["item_id"], resp.json()["lease_id"]
                for _ in range(120):  # retry this label until acknowledged
                    ok = await client.post(f"{url}/v1/review/leases/{lease}/label",
                                           json={"label": truth[item]}, headers=headers)
                    if ok.status_code == 200:
                        p.acked_labels[item] = ok.json()["event_id"]
                        break
                    p.review_errors += 1
                    p.review_refusals[ok.status_code] += 1
                    if ok.status_code in (403, 404, 409):  # lease gone: the item is queued again
                        break
                    await asyncio.sleep(0.5)
            except httpx.HTTPError:
                p.review_errors += 1
                await asyncio.sleep(0.5)


def unique(records: list[Record]) -> list[bytes]:
    return list({(r.partition, r.offset): r.value for r in records}.values())


Disruption = Callable[[KafkaCluster, Progress, int], Awaitable[None]]


async def until_acked(p: Progress, n: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while len(p.acked_docs) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def kill_and_restart(cluster: KafkaCluster, p: Progress, node_id: int, why: str,
                           down_until_acked: int) -> None:
    node = cluster.node(node_id)
    node.kill9()
    p.note(f"kill -9 broker {node_id} ({why}) at {len(p.acked_docs)} acked docs")
    await until_acked(p, down_until_acked)
    node.start()
    took = await asyncio.to_thread(cluster.wait_ready, 120.0, cluster.size)
    p.note(f"broker {node_id} restarted, ready after {took:.1f}s")
    took = await asyncio.to_thread(cluster.wait_in_sync)
    p.note(f"every partition fully replicated again after {took:.1f}s more")


async def two_broker_kills(cluster: KafkaCluster, p: Progress, n: int) -> None:
    """3 nodes: the leader of the labels partition, later the active controller."""
    await until_acked(p, n // 6)
    labels = observer_settings(cluster.bootstrap, p.topic_prefix).topics.labels
    leader = await asyncio.to_thread(cluster.leader_of, labels, 0)
    await kill_and_restart(cluster, p, leader, "leader of the labels partition", n // 3)
    await until_acked(p, n // 2)
    controller = await asyncio.to_thread(cluster.controller_id)
    await kill_and_restart(cluster, p, controller, "active controller", 2 * n // 3)


async def stop_and_start(cluster: KafkaCluster, p: Progress, n: int) -> None:
    """1 node: a controlled stop (SIGTERM) mid-stream, started again on the same data."""
    await until_acked(p, n // 3)
    node = cluster.nodes[0]
    t0 = time.monotonic()
    await asyncio.to_thread(node.stop)
    p.note(f"broker stopped (SIGTERM, {time.monotonic() - t0:.1f}s) at "
           f"{len(p.acked_docs)} acked docs")
    await asyncio.sleep(3.0)
    node.start()
    took = await asyncio.to_thread(cluster.wait_ready, 120.0, 1)
    p.note(f"broker started again, ready after {took:.1f}s (down {time.monotonic() - t0:.1f}s)")


async def run(stack: Stack, cluster: KafkaCluster, docs: list[tuple[str, str, str]],
              rate: float, disrupt: Disruption, settle_s: float = 300) -> dict[str, Any]:
    """Stream ``docs`` with a reviewer while ``disrupt`` runs; the counts (module docstring)."""
    rf = min(cluster.size, 3)
    settings = observer_settings(cluster.bootstrap, stack.topic_prefix, rf)
    truth = {i: label for i, _, label in docs}
    p = Progress(stack.topic_prefix)
    stop_obs, stop_review = asyncio.Event(), asyncio.Event()
    preds = Observer(settings, settings.topics.predictions)
    labels = Observer(settings, settings.topics.labels)
    observers = [asyncio.create_task(o.run(stop_obs)) for o in (preds, labels)]
    reviewer = asyncio.create_task(review(stack["review-0"].url, truth, p, stop_review,
                                            stack.reviewer_headers("sim")))
    try:
        await asyncio.gather(feed(stack["ingest-0"].url, docs, rate, p, stack.headers),
                             disrupt(cluster, p, len(docs)))
        p.note(f"all {len(docs)} documents acknowledged")
        predicted = lambda: {Prediction.model_validate_json(r.value).doc_id  # noqa: E731
                             for r in preds.records}
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and not predicted() >= set(p.acked_docs):
            await asyncio.sleep(0.5)
        p.note("predictions settled")
        stop_review.set()
        await reviewer
        trainer = stack["trainer-0"].url
        async with httpx.AsyncClient(timeout=30, headers=stack.headers) as client:
            status: dict[str, Any] = {}
            while time.monotonic() < deadline:
                with_status = await client.get(f"{trainer}/v1/status")
                status = with_status.json()
                if status["labels_learned"] >= len(p.acked_labels):
                    break
                await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # late duplicates arrive now
    finally:
        stop_review.set()
        stop_obs.set()
        await asyncio.gather(*observers, reviewer, return_exceptions=True)
    # The observers never commit: after a coordinator moves they may read a partition again,
    # so records are told apart by their place in the log before counting duplicates.
    counts = Counter(Prediction.model_validate_json(v).doc_id for v in unique(preds.records))
    label_events = Counter(LabelEvent.model_validate_json(v).event_id
                           for v in unique(labels.records))
    return {
        "documents_acked": len(p.acked_docs),
        "documents_unpredicted": len(set(p.acked_docs) - set(counts)),
        "duplicate_predictions": sum(counts.values()) - len(counts),
        "labels_acked": len(p.acked_labels),
        "labels_not_on_topic": len(set(p.acked_labels.values()) - set(label_events)),
        "labels_unlearned": len(p.acked_labels) - int(status.get("labels_learned", 0)),
        "labels_learned_twice": int(status.get("model_updates", 0))
        - int(status.get("labels_learned", 0)),
        "duplicate_label_records": sum(label_events.values()) - len(label_events),
        "ingest_retries": p.ingest_errors,
        "worst_ingest_latency_s": round(p.worst_ingest_s, 2),
        "review_retries": p.review_errors,
        "review_refusals_by_status": dict(p.review_refusals),
        "seconds": round(time.monotonic() - p.started, 1),
        "events": p.events,
    }
