"""The whole loop on the embedded stack, with the real MiniLM and real 20 Newsgroups text."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from services.common.schemas import Prediction
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.settings import StackSettings
from services.stack.stack import build_stack
from services.trainer.settings import TrainerSettings
from tests.e2e.conftest import serving
from tests.helpers import CLASSES, metric, sample

pytestmark = pytest.mark.e2e

N_TRAIN, N_TEST = 600, 200


async def reviewer(client: httpx.AsyncClient, url: str, truth: dict[str, str],
                   done: asyncio.Event, labeled: list[str]) -> None:
    idle = 0
    while True:
        resp = await client.post(f"{url}/v1/review/next", headers={"X-Reviewer": "sim"})
        if resp.status_code == 204:
            idle += 1
            if done.is_set() and idle > 10:
                return
            await asyncio.sleep(0.1)
            continue
        idle = 0
        item = resp.json()
        label = truth[item["item_id"]]
        ok = await client.post(f"{url}/v1/review/leases/{item['lease_id']}/label",
                               json={"label": label}, headers={"X-Reviewer": "sim"})
        assert ok.status_code == 200, ok.text
        labeled.append(item["item_id"])


@pytest.mark.timeout(600)
async def test_active_learning_loop_end_to_end():
    train = sample("train", N_TRAIN, seed=1, tag="train")
    test = sample("test", N_TEST, seed=2, tag="test")
    truth = {i: label for i, _, label in train}
    stack = build_stack(
        StackSettings(),
        IngestSettings(),
        ScorerSettings(max_length=128),
        ReviewSettings(lease_ttl_s=30),
        TrainerSettings(publish_every_labels=20, publish_every_s=1.0),
    )
    async with serving(stack) as urls, httpx.AsyncClient(timeout=60) as client:
        done, labeled = asyncio.Event(), []
        review_task = asyncio.create_task(reviewer(client, urls.review, truth, done, labeled))
        for start in range(0, N_TRAIN, 50):
            batch = [{"id": i, "text": t} for i, t, _ in train[start : start + 50]]
            resp = await client.post(f"{urls.ingest}/v1/documents", json={"documents": batch})
            assert resp.status_code == 202, resp.text

        reader = stack.bus.consumer([stack.settings.topics.predictions], "e2e-observer")
        await reader.start()
        predictions: list[Prediction] = []
        for _ in range(600):
            predictions += [Prediction.model_validate_json(r.value)
                            for r in await reader.poll(1000, 0.2)]
            if len({p.doc_id for p in predictions}) >= N_TRAIN:
                break
        done.set()
        await asyncio.wait_for(review_task, 120)

        # Exactly one prediction per ingested document.
        counts = Counter(p.doc_id for p in predictions)
        assert set(counts) == set(truth)
        assert max(counts.values()) == 1

        # The trainer published versions and the scorer swapped to the latest one.
        assert len(labeled) >= 20, "the reviewer was handed too few items"
        for _ in range(100):
            status = (await client.get(f"{urls.trainer}/v1/status")).json()
            served = (await client.get(f"{urls.scorer}/v1/model")).json()
            if status["labels_since_publish"] == 0 and served["version"] == status[
                    "model_version"] and status["labels_learned"] == len(labeled):
                break
            await asyncio.sleep(0.2)
        assert status["labels_learned"] == len(labeled)
        assert served["version"] == status["model_version"] > 1
        assert set(served["classes"]) == set(CLASSES)

        # Held-out accuracy through /v1/classify beats the majority class by a wide margin.
        correct = 0
        for _, text, label in test:
            resp = await client.post(f"{urls.scorer}/v1/classify", json={"text": text})
            assert resp.status_code == 200, resp.text
            out = resp.json()
            correct += out["label"] == label
            assert out["model_version"] == served["version"]
        accuracy = correct / len(test)
        majority = Counter(label for *_, label in test).most_common(1)[0][1] / len(test)
        print(f"\nlabels used {len(labeled)}/{N_TRAIN}, holdout accuracy {accuracy:.3f}, "
              f"majority {majority:.3f}, prequential {status['prequential_accuracy']:.3f}")
        assert accuracy >= majority + 0.35

        # Every service's /metrics carries real values from this run.
        ingest_m = (await client.get(f"{urls.ingest}/metrics")).text
        scorer_m = (await client.get(f"{urls.scorer}/metrics")).text
        review_m = (await client.get(f"{urls.review}/metrics")).text
        trainer_m = (await client.get(f"{urls.trainer}/metrics")).text
        assert metric(ingest_m, "alstream_ingest_documents_total") == N_TRAIN
        assert metric(scorer_m, "alstream_scorer_documents_scored_total") == N_TRAIN
        assert metric(scorer_m, "alstream_scorer_routed_total") >= len(labeled)
        assert metric(scorer_m, "alstream_scorer_classify_latency_seconds_count") == N_TEST
        assert metric(scorer_m, "alstream_scorer_model_version") == served["version"]
        assert metric(review_m, "alstream_review_labels_total") == len(labeled)
        assert metric(review_m, "alstream_review_queue_depth") == 0
        assert metric(trainer_m, "alstream_trainer_labels_learned_total") == len(labeled)
        assert metric(trainer_m, "alstream_trainer_model_version") == served["version"]
