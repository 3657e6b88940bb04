"""Measure 1: the stream path end to end against the raw encoder, same backend and batch size.

Stream: documents published on the in-process bus, consumed by the real scorer (ConsumerLoop,
micro-batcher, encoder, model predict, routing with near-duplicate check, publish of
predictions and review requests), timed until the last prediction is on the bus. Raw: the same
texts through ``encoder.encode`` in fixed batches, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import SecretStr

from services.bench.baseline import BENCH_KEY, register
from services.bench.common import Measure, median
from services.bench.encoder_bench import encode_rate
from services.common.bus import MemoryBus
from services.common.encoding import Encoder
from services.common.model import OnlineClassifier
from services.common.schemas import Document
from services.common.store import MemoryStore
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings

log = logging.getLogger(__name__)


async def stream_rate(
    encoder: Encoder, model: OnlineClassifier, texts: list[str], batch: int, max_length: int,
    tag: str, default_budget: bool = False,
) -> tuple[float, dict[str, float]]:
    """``default_budget``: the scorer's own token budget for the device, instead of one that
    lets every batch reach ``batch`` texts."""
    settings = ScorerSettings(
        batch_size=batch, batch_max_tokens=None if default_budget else batch * max_length,
        max_length=max_length, instance_id=f"bench-{tag}",
        signing_key=SecretStr(BENCH_KEY.decode()),
    )
    bus, store = MemoryBus(partitions=3), MemoryStore()
    await bus.ensure_topics(settings.topics)
    await register(store, model)
    service = build_scorer(settings, bus, store, encoder=encoder)
    await service.start()
    docs = [Document(id=f"{tag}-{i}", text=t) for i, t in enumerate(texts)]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await bus.publish_many(settings.topics.documents, [(d.id, d) for d in docs])
        while sum(bus.end_offsets(settings.topics.predictions)) < len(docs):
            await asyncio.sleep(0.005)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await service.stop(timeout_s=30)
    batcher = service.state["embedder"].batcher
    info = {"routed": float(sum(bus.end_offsets(settings.topics.review_requests))),
            "encoder_batches": float(batcher.batches), "cpu_s": cpu}
    return len(docs) / elapsed, info


async def stream_vs_raw(
    encoder: Encoder, model: OnlineClassifier, texts: list[str], batch: int, rounds: int,
    max_length: int, key: str = "stream_vs_raw_encoder", default_budget: bool = False,
) -> Measure:
    raw: list[float] = []
    stream: list[float] = []
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    info: dict[str, float] = {}
    await stream_rate(encoder, model, texts[:8], batch, max_length, "warm-up")
    for r in range(rounds):
        # Alternate which goes first, so a load change on the machine hits both.
        if r % 2 == 0:
            raw_rate, raw_cpu = _raw(encoder, texts, batch)
            stream_r, info = await stream_rate(encoder, model, texts, batch, max_length, f"r{r}",
                                               default_budget)
        else:
            stream_r, info = await stream_rate(encoder, model, texts, batch, max_length, f"r{r}",
                                               default_budget)
            raw_rate, raw_cpu = _raw(encoder, texts, batch)
        raw.append(raw_rate)
        stream.append(stream_r)
        ratios.append(stream_r / raw_rate)
        cpu_ratios.append(raw_cpu / info.pop("cpu_s"))
        log.info("round %d: raw %.1f/s stream %.1f/s", r, raw_rate, stream_r)
    ratio = median(ratios)
    title = f"Stream scoring / raw encoder rate ({encoder.name}, batch {batch})"
    if default_budget:
        title = (f"Stream scoring with the default token budget / raw encoder rate at batch "
                 f"{batch} ({encoder.name})")
    return Measure(
        key=key, title=title, ours=median(stream), baseline=median(raw), ratio=ratio,
        unit="docs/s", goal="informative" if default_budget else ">= 0.90",
        met=None if default_budget else bool(ratio >= 0.90),
        extra={"docs_per_round": len(texts), "rounds": rounds,
               "round_ratios": [round(x, 3) for x in ratios],
               # Docs per CPU-second, stream over raw: blind to other processes' load.
               "cpu_time_ratio": median(cpu_ratios), **info},
    )


def _raw(encoder: Encoder, texts: list[str], batch: int) -> tuple[float, float]:
    cpu = time.process_time()
    rate = encode_rate(encoder, texts, batch)[0]
    return rate, time.process_time() - cpu
