"""The production path end to end: every service its own process, real broker and Redis.

The tests share one stack (tests/integration/conftest.py) and run in file order: the stream with
a scorer crash first, then the trainer crash, then poison messages, then the two scorers
splitting a fresh stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import httpx
import pytest

from services.common.schemas import DeadLetter, LabelEvent, Prediction, Reason
from tests.fixtures.stack import Stack
from tests.integration.conftest import FAST_ENV
from tests.integration.helpers import (
    CLASSES,
    Observer,
    Reviewer,
    eventually,
    group_members,
    inject,
    metric,
    observer_settings,
    sample,
)

pytestmark = pytest.mark.integration
N_TRAIN, N_TEST = 2000, 300
SESSION_TIMEOUT_S = int(FAST_ENV["ALSTREAM_KAFKA_SESSION_TIMEOUT_MS"]) / 1000


async def survivor_owns_everything(st: Stack) -> float:
    """When the scorer group has one member holding all its partitions (monotonic time)."""
    group = f"{st.topic_prefix}scorer"
    partitions = set(range(int(FAST_ENV["ALSTREAM_PARTITIONS"])))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the coordinator may be mid-rebalance
            state, members = await group_members(st.bootstrap, group)
            if state == "Stable" and members == [partitions]:
                return time.monotonic()
        await asyncio.sleep(0.2)
    raise AssertionError("the surviving scorer never took over every partition")


async def status(client: httpx.AsyncClient, url: str) -> dict:  # type: ignore[type-arg]
    return (await client.get(f"{url}/v1/status")).json()  # type: ignore[no-any-return]


async def test_stream_with_a_scorer_crash(full_stack: Stack) -> None:
    st = full_stack
    train = sample("train", N_TRAIN, seed=1, tag="doc")
    test = sample("test", N_TEST, seed=2, tag="held")
    truth = {doc_id: label for doc_id, _, label in train}
    settings = observer_settings(st.bootstrap, st.topic_prefix)
    stop = asyncio.Event()
    predictions = Observer(settings, settings.topics.predictions)
    observing = asyncio.create_task(predictions.run(stop))
    seen = lambda: {Prediction.model_validate_json(r.value).doc_id  # noqa: E731
                    for r in predictions.records}
    scorer = st["scorer-0"]
    starts = scorer.restarts  # the session's stack: earlier tests may have restarted it too

    async with httpx.AsyncClient(timeout=60, headers=st.headers) as client:
        # Labels learned by earlier tests on this session's stack (the lifecycle tests).
        learned_before = (await status(client, st["trainer-0"].url))["labels_learned"]
        reviewer = Reviewer(st["review-0"].url, truth)
        reviewing = asyncio.create_task(reviewer.run(client))
        for start in range(0, N_TRAIN, 100):
            batch = [{"id": i, "text": t} for i, t, _ in train[start : start + 100]]
            resp = await client.post(f"{st['ingest-0'].url}/v1/documents",
                                     json={"documents": batch})
            assert resp.status_code == 202, resp.text
            if start == 800:
                # Mid-stream: once the scorer has scored part of the stream, crash it. The
                # stream goes on while it is down; it is restarted two batches later.
                async def scored_some() -> bool:
                    return len(seen()) >= 300
                await eventually(scored_some, 120, what="300 predictions before the crash")
                scorer.kill9()
                crashed_at, crashed_with = time.monotonic(), len(seen())
                takeover = asyncio.create_task(survivor_owns_everything(st))
            if start == 1000:
                # The survivor takes the dead member's partitions once the group coordinator
                # misses its heartbeats for a session timeout (6 s here), then the restart.
                takeover_s = await takeover - crashed_at
                scorer.start()
        await asyncio.to_thread(scorer.wait_healthy)

        async def all_predicted() -> bool:
            return seen() >= set(truth)
        await eventually(all_predicted, 300, every_s=0.5, what="a prediction for every document")
        await asyncio.sleep(1.0)  # late duplicates, if any, arrive now
        reviewer.stop.set()
        await reviewing
        stop.set()
        await observing

        # Every document has exactly one prediction after dedup by id, and nothing else does.
        counts = Counter(Prediction.model_validate_json(r.value).doc_id
                         for r in predictions.records)
        assert set(counts) == set(truth)
        assert crashed_with < N_TRAIN
        duplicates = sum(counts.values()) - len(counts)  # redelivered after the crash
        assert scorer.restarts == starts + 1

        # The model version advanced and the scorer serves the trainer's latest version.
        labeled = len(reviewer.labeled)
        assert labeled >= 20, "the reviewer was handed too few items"
        review_url, trainer_url = st["review-0"].url, st["trainer-0"].url

        async def settled() -> bool:
            s = await status(client, trainer_url)
            served = (await client.get(f"{scorer.url}/v1/model")).json()
            return (s["labels_learned"] == learned_before + labeled
                    and s["labels_since_publish"] == 0
                    and served["version"] == s["model_version"])
        await eventually(settled, 60, what="trainer learned every label, scorer swapped")
        trainer_status = await status(client, trainer_url)
        assert trainer_status["model_version"] > 1
        assert trainer_status["model_updates"] == labeled  # each label learned once
        stats = (await client.get(f"{review_url}/v1/review/stats")).json()
        assert stats["labeled"] == labeled
        # The scorers' observations reached the trainer's unlabeled window over real Kafka,
        # and every publish after the first hundred weighed a refinement on it.
        trainer_m = (await client.get(f"{trainer_url}/metrics")).text
        window = metric(trainer_m, "alstream_trainer_unlabeled_window_items")
        assert 100 <= window <= 3000
        refined = metric(trainer_m, "alstream_trainer_refinements_total")
        assert refined >= 1

        # Held-out accuracy through /v1/classify beats the majority class.
        sem = asyncio.Semaphore(8)

        async def classify(text: str) -> str | None:
            async with sem:
                resp = await client.post(f"{scorer.url}/v1/classify", json={"text": text})
                assert resp.status_code == 200, resp.text
                return resp.json()["label"]  # type: ignore[no-any-return]
        answers = await asyncio.gather(*(classify(t) for _, t, _ in test))
        accuracy = sum(a == label for a, (_, _, label) in zip(answers, test, strict=True))
        accuracy /= len(test)
        majority = Counter(label for *_, label in test).most_common(1)[0][1] / len(test)
        print(f"\n{N_TRAIN} docs, {labeled} labels, scorer killed after {crashed_with} "
              f"predictions, survivor took over after {takeover_s:.1f}s (session timeout "
              f"{SESSION_TIMEOUT_S:g}s), {duplicates} duplicate predictions, model v"
              f"{trainer_status['model_version']}, holdout accuracy {accuracy:.3f} "
              f"(majority {majority:.3f})")
        assert accuracy > majority + 0.3
        # Expiry after one session timeout; the rest is the rebalance on a loaded machine.
        assert takeover_s < SESSION_TIMEOUT_S + 15
        ingest_m = (await client.get(f"{st['ingest-0'].url}/metrics")).text
        assert metric(ingest_m, "alstream_ingest_documents_total") == N_TRAIN


async def test_trainer_crash_loses_no_label_and_learns_none_twice(full_stack: Stack) -> None:
    st = full_stack
    settings = observer_settings(st.bootstrap, st.topic_prefix)
    trainer = st["trainer-0"]
    starts = trainer.restarts  # the session's stack: earlier tests may have restarted it too
    # Real label events from the first test, re-issued under new item ids.
    stop = asyncio.Event()
    labels = Observer(settings, settings.topics.labels)
    task = asyncio.create_task(labels.run(stop))
    await asyncio.sleep(3.0)
    stop.set()
    await task
    sources = [LabelEvent.model_validate_json(r.value) for r in labels.records] or [
        # Run on its own (no earlier labels): synthetic 384-d vectors, one cluster per class.
        LabelEvent(item_id=f"synthetic-{c}", label=c, embedding=[float(j % 4 == c_i)
                   for j in range(384)], reviewer="sim", reason=Reason.UNCERTAINTY)
        for c_i, c in enumerate(CLASSES)
    ]
    n = 300
    fresh = [sources[i % len(sources)].model_copy(update={"item_id": f"relabel-{i}",
                                                          "event_id": f"ev-{i}"})
             for i in range(n)]
    from services.common.bus.kafka import KafkaBus

    bus = KafkaBus(settings)
    await bus.start()
    async with httpx.AsyncClient(timeout=30, headers=st.headers) as client:
        before = await status(client, trainer.url)
        assert before["labels_learned"] == before["model_updates"]
        try:
            killed = False
            for start in range(0, n, 25):
                chunk = fresh[start : start + 25]
                await bus.publish_many(settings.topics.labels, [(e.item_id, e) for e in chunk])
                if not killed and start >= 100:
                    async def learned_some() -> bool:
                        s = await status(client, trainer.url)
                        return bool(s["labels_learned"] >= before["labels_learned"] + 100)
                    await eventually(learned_some, 60, what="100 new labels learned")
                    trainer.kill9()  # mid-stream, labels still arriving
                    killed = True
                await asyncio.sleep(0.05)
            # Redelivery from the producer side too: the same events once more.
            await bus.publish_many(settings.topics.labels, [(e.item_id, e) for e in fresh[:50]])
            trainer.start()
            await asyncio.to_thread(trainer.wait_healthy)
            target = before["labels_learned"] + n

            async def caught_up() -> bool:
                return bool((await status(client, trainer.url))["labels_learned"] >= target)
            await eventually(caught_up, 90, what="every label learned after the restart")
            await asyncio.sleep(2.0)  # anything still in flight would be learned now
            after = await status(client, trainer.url)
        finally:
            await bus.stop()
    assert after["labels_learned"] == target  # nothing lost
    assert after["model_updates"] == target  # nothing learned twice
    assert after["model_version"] >= before["model_version"]
    assert trainer.restarts == starts + 1


async def test_poison_messages_go_to_the_dead_letter_topic(full_stack: Stack) -> None:
    st = full_stack
    settings = observer_settings(st.bootstrap, st.topic_prefix)
    topics = settings.topics
    stop = asyncio.Event()
    letters = Observer(settings, topics.dead_letter)
    predictions = Observer(settings, topics.predictions)
    tasks = [asyncio.create_task(o.run(stop)) for o in (letters, predictions)]
    injected: dict[str, tuple[int, int]] = {}
    for topic, payload in [
        (topics.documents, b"\x00\xffnot json at all"),
        (topics.review_requests, b'{"item_id": "x"}'),  # JSON, but not a ReviewRequest
        (topics.labels, b'{"item_id": "y", "label": 5}'),
        (topics.models, b"[1, 2, 3]"),
        (topics.observations, b'{"item_id": "z", "embedding": "not a vector"}'),
    ]:
        injected[topic] = await inject(st.bootstrap, topic, payload, key=b"poison")

    def arrived() -> dict[str, dict[str, DeadLetter]]:
        """source topic -> consumer group -> the letter for our poison record."""
        out: dict[str, dict[str, DeadLetter]] = {}
        for r in letters.records:
            letter = DeadLetter.model_validate_json(r.value)
            if (letter.partition, letter.offset) == injected.get(letter.source_topic):
                out.setdefault(letter.source_topic, {})[letter.consumer_group] = letter
        return out

    def complete() -> bool:
        groups = arrived()
        return ("scorer" in groups.get(topics.documents, {})
                and "review-api" in groups.get(topics.review_requests, {})
                and "trainer" in groups.get(topics.labels, {})
                and "trainer-observations" in groups.get(topics.observations, {})
                and any(g.startswith("scorer-models-") for g in groups.get(topics.models, {})))
    try:
        # Every group that reads a poisoned topic dead-letters the record once and moves on.
        await eventually(lambda: asyncio.sleep(0, complete()), 60,
                         what="a dead letter from each consumer of each poisoned topic")
        by_topic = arrived()
        assert set(by_topic) == set(injected)
        assert all(x.error and x.payload for g in by_topic.values() for x in g.values())
        # Everyone is still up and still working: a new document gets its prediction.
        assert all(svc.alive() and svc.healthy() for svc in st.services.values())
        marker = f"after-poison-{time.time_ns()}"
        async with httpx.AsyncClient(timeout=30, headers=st.headers) as client:
            resp = await client.post(f"{st['ingest-0'].url}/v1/documents",
                                     json={"id": marker, "text": "the shuttle launch slipped"})
            assert resp.status_code == 202
        await eventually(lambda: asyncio.sleep(0, any(
            Prediction.model_validate_json(r.value).doc_id == marker
            for r in predictions.records)), 60, what="a prediction after the poison")

        async def scorers_dead_lettered() -> bool:
            # Each scorer's model-announcement group dead-letters its own copy; one of the two
            # also owns the poisoned document's partition.
            async with httpx.AsyncClient(timeout=30, headers=st.headers) as client:
                texts = [(await client.get(f"{st[n].url}/metrics")).text
                         for n in ("scorer-0", "scorer-1")]
            return sum(metric(t, "alstream_dead_letters_total", 0.0) for t in texts) >= 3

        await eventually(scorers_dead_lettered, 60, what="dead letters counted by both scorers")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_two_scorers_split_the_stream_and_both_serve_classify(full_stack: Stack) -> None:
    st = full_stack
    scorers = [st["scorer-0"], st["scorer-1"]]
    docs = sample("test", 200, seed=7, tag="split")
    scored = "alstream_scorer_documents_scored_total"
    async with httpx.AsyncClient(timeout=60, headers=st.headers) as client:

        async def counts() -> list[float]:
            return [metric((await client.get(f"{s.url}/metrics")).text, scored)
                    for s in scorers]

        before = await counts()
        for start in range(0, len(docs), 100):
            batch = [{"id": i, "text": t} for i, t, _ in docs[start : start + 100]]
            resp = await client.post(f"{st['ingest-0'].url}/v1/documents",
                                     json={"documents": batch})
            assert resp.status_code == 202, resp.text

        async def both_scored() -> bool:
            now = await counts()
            return sum(now) - sum(before) >= len(docs) and all(
                n > b for n, b in zip(now, before, strict=True))

        # Documents are keyed by id over 4 partitions, and each scorer holds two of them.
        await eventually(both_scored, 180, every_s=0.5, what="both scorers scoring the stream")
        versions = set()
        for s in scorers:
            resp = await client.post(f"{s.url}/v1/classify", json={"text": docs[0][1]})
            assert resp.status_code == 200, resp.text
            assert resp.json()["label"] in CLASSES
            versions.add(resp.json()["model_version"])
        assert min(versions) > 1
