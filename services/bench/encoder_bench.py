"""Measure 2: ONNX Runtime int8 against torch fp32 on CPU, same texts, same batch size."""

from __future__ import annotations

import logging
import time

import numpy as np

from services.bench.common import Measure, median
from services.common.encoding import Encoder

log = logging.getLogger(__name__)


def encode_rate(encoder: Encoder, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    """Texts per second for ``encoder.encode`` over ``texts`` in chunks of ``batch``."""
    started = time.perf_counter()
    parts = [encoder.encode(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return len(texts) / (time.perf_counter() - started), np.concatenate(parts)


def onnx_vs_torch(
    onnx: Encoder, torch_cpu: Encoder, texts: list[str], batch: int, rounds: int,
    per_round: int = 32,
) -> Measure:
    """Interleaved rounds (ABBA order, so drift in machine load hits both equally); the ratio
    is the median of per-round ratios. Cosine is taken on every text both encoded."""
    onnx.encode(texts[:2])
    torch_cpu.encode(texts[:2])
    rates: dict[str, list[float]] = {"onnx": [], "torch": []}
    ratios: list[float] = []
    cosines: list[np.ndarray] = []
    for r in range(rounds):
        chunk = texts[r * per_round : (r + 1) * per_round]
        order = [("torch", torch_cpu), ("onnx", onnx)]
        if r % 2:
            order.reverse()
        got: dict[str, tuple[float, np.ndarray]] = {}
        for name, encoder in order:
            got[name] = encode_rate(encoder, chunk, batch)
            rates[name].append(got[name][0])
        ratios.append(got["onnx"][0] / got["torch"][0])
        cosines.append(np.sum(got["onnx"][1] * got["torch"][1], axis=1))
        log.info("round %d: torch %.1f/s onnx %.1f/s", r, got["torch"][0], got["onnx"][0])
    cosine = np.concatenate(cosines)
    ratio = median(ratios)
    return Measure(
        key="onnx_int8_vs_torch_fp32_cpu" + ("" if batch == 32 else f"_batch{batch}"),
        title=f"ONNX int8 / torch fp32 encode rate, CPU, batch {batch}",
        ours=median(rates["onnx"]), baseline=median(rates["torch"]), ratio=ratio,
        unit="texts/s", goal=">= 2.5x at mean cosine >= 0.98",
        met=bool(ratio >= 2.5 and cosine.mean() >= 0.98),
        extra={"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()),
               "texts_compared": len(cosine), "rounds": rounds,
               "round_ratios": [round(x, 3) for x in ratios]},
    )


def batch_gain(encoder: Encoder, texts: list[str], rounds: int, tag: str) -> Measure:
    """Per-text rate at batch 32 over batch 1, same encoder, interleaved. For ONNX also the
    rate of 32 texts in one single ORT call (no chunking), which is what chunking avoids."""
    encoder.encode(texts[:2])
    big, single, one_call, ratios = [], [], [], []
    chunk_tokens = getattr(encoder, "chunk_tokens", None)
    for r in range(rounds):
        chunk = texts[r * 32 : (r + 1) * 32]
        b32 = encode_rate(encoder, chunk, 32)[0]
        b1 = encode_rate(encoder, chunk[:16], 1)[0]
        if chunk_tokens is not None:
            encoder.chunk_tokens = 1 << 30  # type: ignore[attr-defined]
            one_call.append(encode_rate(encoder, chunk, 32)[0])
            encoder.chunk_tokens = chunk_tokens  # type: ignore[attr-defined]
        big.append(b32)
        single.append(b1)
        ratios.append(b32 / b1)
    extra: dict[str, object] = {"round_ratios": [round(x, 3) for x in ratios]}
    if one_call:
        extra["one_call_batch32_rate"] = median(one_call)
        extra["one_call_vs_batch1"] = median(one_call) / median(single)
    return Measure(
        key=f"onnx_batch32_vs_batch1_{tag}",
        title=f"ONNX int8 per-text rate, batch 32 / batch 1, texts cut at {tag} tokens",
        ours=median(big), baseline=median(single), ratio=median(ratios), unit="texts/s",
        goal="informative", met=None, extra=extra,
    )
