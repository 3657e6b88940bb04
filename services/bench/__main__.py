"""``python -m services.bench``: every scorer benchmark, a table, docs/benchmarks.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from services.bench.baseline import save_model, train
from services.bench.classify_bench import classify_bench
from services.bench.common import Measure, labelled, texts
from services.bench.encoder_bench import batch_gain, onnx_vs_torch
from services.bench.notes import notes
from services.bench.report import table, write_json, write_md
from services.bench.stream_bench import stream_vs_raw
from services.common.encoding import cuda_available, make_encoder

log = logging.getLogger("services.bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke test)")
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("services.scorer", "services.common", "faiss", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report(args.out, *asyncio.run(run(args.quick, args.max_length)))


async def run(quick: bool, max_length: int) -> tuple[list[Measure], dict[str, Any], bool]:
    started, load_start = time.time(), _load()
    rounds = 2 if quick else 4
    pool = texts(1024)
    onnx = make_encoder("onnx", device="cpu", max_length=max_length)
    tokens = onnx.count_tokens(pool[:512])
    measures: list[Measure] = []

    log.info("2/4: ONNX int8 against torch fp32 on CPU")
    torch_cpu = make_encoder("torch", device="cpu", max_length=max_length)
    measures.append(onnx_vs_torch(onnx, torch_cpu, pool[:rounds * 32], 32, rounds))
    # One text per call: the regime of /classify and of the CPU default token budget.
    measures.append(onnx_vs_torch(onnx, torch_cpu, pool[:rounds * 12], 1, rounds, 12))
    del torch_cpu
    measures.append(batch_gain(onnx, pool[128:], rounds, f"{max_length}"))
    short = make_encoder("onnx", device="cpu", max_length=48)
    measures.append(batch_gain(short, pool[128:], rounds, "48"))
    del short

    log.info("training the benchmark's model on 20NG train embeddings")
    examples = labelled(64 if quick else 160)
    model = train(onnx.encode([t for t, _ in examples]), [label for _, label in examples])

    log.info("1/4: stream scoring against the raw encoder")
    stream_texts = pool[256 : 256 + (64 if quick else 96)]
    measures.append(await stream_vs_raw(onnx, model, stream_texts, 32, rounds + 1, max_length))
    measures.append(await stream_vs_raw(onnx, model, stream_texts, 32, rounds - 1, max_length,
                                        key="stream_default_budget_vs_raw_encoder",
                                        default_budget=True))

    log.info("3/4 and 4/4: /classify under concurrency; resident memory per backend")
    levels = {1: 8, 4: 16, 16: 32, 64: 64} if quick else {1: 16, 4: 32, 16: 64, 64: 128}
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "model.pkl"
        save_model(model, model_file)
        measures += await classify_bench(model_file, pool[512:640], levels, 1 if quick else 2,
                                         torch_requests=24 if quick else 48)

    gpu = cuda_available()
    if gpu:
        from services.bench.gpu_bench import gpu_measures

        log.info("GPU variant")
        measures += await gpu_measures(pool, model, max_length)

    meta: dict[str, Any] = {
        "command": "make bench",
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": time.time() - started,
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "gpu": _gpu_name() if gpu else "none available in this run",
        "python": platform.python_version(),
        "load_start": load_start,
        "load_end": _load(),
        "max_length": max_length,
        "mean_tokens": float(np.mean(tokens)),
        "quick": quick,
    }
    return measures, meta, gpu


def report(out: Path, measures: list[Measure], meta: dict[str, Any], gpu: bool) -> None:
    print(table(measures))
    out.mkdir(parents=True, exist_ok=True)
    write_json(measures, meta, out / "benchmarks.json")
    write_md(measures, meta, out / "benchmarks.md", notes(measures, gpu))
    log.info("wrote %s and %s", out / "benchmarks.json", out / "benchmarks.md")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_name() -> str:
    import torch

    return str(torch.cuda.get_device_name(0))


if __name__ == "__main__":
    main()
