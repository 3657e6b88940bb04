"""What a Kafka broker restart mid-stream does to alstream, measured.

Starts a private noida-db broker and an ingest + scorer pair (own processes, Redis on 6379 with
a throwaway key prefix), feeds documents through the ingest API at a steady rate, stops the
broker with ``noida-db down`` in the middle, starts it again on the same data directory, and
reports: how long the broker was down, what the ingest clients saw (errors, worst latency),
whether any accepted document lost its prediction, duplicates, and how long until predictions
flowed again.

    .venv/bin/python scripts/broker_restart.py [--rate 40] [--before 15] [--after 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from itertools import pairwise
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.schemas import Prediction  # noqa: E402
from tests.fixtures.kafka import start_noida  # noqa: E402
from tests.fixtures.redis import delete_prefix, ensure_shared_redis, unique_prefix  # noqa: E402
from tests.fixtures.stack import Stack  # noqa: E402
from tests.integration.helpers import Observer, observer_settings  # noqa: E402


async def feed(url: str, rate: float, stop: asyncio.Event, log: list[dict[str, float]],
               headers: dict[str, str]) -> None:
    """POST batches of 5 documents at ``rate`` docs/s; records each request's fate."""
    n = 0
    async with httpx.AsyncClient(timeout=120, headers=headers) as client:
        while not stop.is_set():
            ids = [f"d{n + i}" for i in range(5)]
            n += 5
            started = time.time()
            body = {"documents": [{"id": i, "text": f"document {i} about space and hockey"}
                                  for i in ids]}
            try:
                resp = await client.post(f"{url}/v1/documents", json=body)
                ok = resp.status_code == 202
            except httpx.HTTPError:
                ok = False
            log.append({"t": started, "latency": time.time() - started, "ok": ok,
                        "ids": ids})  # type: ignore[dict-item]
            await asyncio.sleep(max(0.0, 5 / rate - (time.time() - started)))


async def measure(rate: float, before_s: float, after_s: float) -> dict[str, object]:
    redis_url = ensure_shared_redis()
    broker = start_noida()
    log_dir = Path(tempfile.mkdtemp(prefix="restart-"))
    stack = Stack(broker.bootstrap, redis_url, unique_prefix("restart"),
                  f"restart-{uuid.uuid4().hex[:6]}.", log_dir,
                  extra_env={"ALSTREAM_KAFKA_ASSIGNMENT": "leases",
                             "ALSTREAM_KAFKA_LEASE_TTL_MS": "3000", "ALSTREAM_PARTITIONS": "4",
                             "ALSTREAM_MAX_LENGTH": "64"})
    stack.add("ingest-0", "ingest")
    stack.add("scorer-0", "scorer")
    try:
        stack.start_all()
        settings = observer_settings(broker.bootstrap, stack.topic_prefix)
        stop_obs, stop_feed = asyncio.Event(), asyncio.Event()
        preds = Observer(settings, settings.topics.predictions)
        observing = asyncio.create_task(preds.run(stop_obs))
        requests: list[dict[str, float]] = []
        feeding = asyncio.create_task(feed(stack["ingest-0"].url, rate, stop_feed, requests,
                                       stack.headers))

        await asyncio.sleep(before_s)
        down_at = time.time()
        await asyncio.to_thread(broker.stop)
        stopped_at = time.time()
        await asyncio.to_thread(broker.start)
        up_at = time.time()
        await asyncio.sleep(after_s)
        stop_feed.set()
        await feeding

        accepted = {i for r in requests if r["ok"] for i in r["ids"]}  # type: ignore[attr-defined]

        def scored() -> dict[tuple[int, int], Prediction]:
            # The observer may re-read after the broker restart (it does not commit), so
            # records are told apart by their position in the log.
            return {(r.partition, r.offset): Prediction.model_validate_json(r.value)
                    for r in preds.records}
        deadline = time.time() + 120
        while time.time() < deadline and not accepted <= {p.doc_id for p in scored().values()}:
            await asyncio.sleep(0.5)
        stop_obs.set()
        await observing

        # Where did anything missing get lost: before the documents topic or after it?
        stop_docs = asyncio.Event()
        docs = Observer(settings, settings.topics.documents)
        reading = asyncio.create_task(docs.run(stop_docs))
        await asyncio.sleep(5)
        stop_docs.set()
        await reading
        in_topic = {json.loads(r.value)["id"] for r in docs.records}

        positions = scored()
        predictions = list(positions.values())
        by_doc: dict[str, list[str]] = {}
        for (part, off), pred in sorted(positions.items()):
            by_doc.setdefault(pred.doc_id, []).append(
                f"p{part}@{off} t={pred.scored_at.timestamp() - down_at:+.2f}s")
        dup_examples = {d: v for d, v in by_doc.items() if len(v) > 1}
        counts = Counter(p.doc_id for p in predictions)
        times = sorted(p.scored_at.timestamp() for p in predictions)
        after_up = [t for t in times if t > up_at]
        before_down = [t for t in times if t <= down_at]
        window = [t for t in times if down_at - 5 <= t <= up_at + 15]
        gap = max((b - a for a, b in pairwise(window)), default=0.0)
        around = [r for r in requests if down_at - 1 <= r["t"] <= up_at + 5]
        return {
            "rate_docs_per_s": rate,
            "broker_stop_s": round(stopped_at - down_at, 3),
            "broker_start_s": round(up_at - stopped_at, 3),
            "broker_unavailable_s": round(up_at - down_at, 3),
            "ingest_requests": len(requests),
            "ingest_failed_requests": sum(not r["ok"] for r in requests),
            "ingest_worst_latency_s": round(max(r["latency"] for r in requests), 3),
            "ingest_worst_latency_around_restart_s": round(
                max((r["latency"] for r in around), default=0.0), 3),
            "accepted_documents": len(accepted),
            "accepted_without_prediction": len(accepted - set(counts)),
            "accepted_missing_from_documents_topic": len(accepted - in_topic),
            "missing_examples": sorted(accepted - set(counts))[:10],
            "duplicate_predictions": sum(counts.values()) - len(counts),
            "duplicate_examples": dict(list(dup_examples.items())[:3]),
            "first_prediction_after_broker_up_s": round(after_up[0] - up_at, 3)
            if after_up else None,
            "last_prediction_before_stop_s_before": round(down_at - max(before_down), 3)
            if before_down else None,
            "longest_gap_between_predictions_around_restart_s": round(gap, 3),
            "services_alive_after": all(s.alive() for s in stack.services.values()),
        }
    finally:
        stack.stop_all()
        broker.close()
        delete_prefix(redis_url, stack.redis_prefix)
        shutil.rmtree(log_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="documents per second")
    parser.add_argument("--before", type=float, default=15.0, help="seconds before the restart")
    parser.add_argument("--after", type=float, default=20.0, help="seconds after it")
    args = parser.parse_args()
    result = asyncio.run(measure(args.rate, args.before, args.after))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
