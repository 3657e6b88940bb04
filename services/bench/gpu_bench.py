"""The GPU variant: runs only where CUDA is available (none was in the recorded CPU run).

- torch fp16 against fp32 encode rate on the GPU, same texts and batch size;
- stream scoring / raw encoder rate with the CUDA fp16 encoder;
- faiss-gpu against faiss-cpu exact inner-product search over 1M x 384 vectors.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from services.bench.common import Measure, median
from services.bench.encoder_bench import encode_rate
from services.bench.stream_bench import stream_vs_raw
from services.common.encoding import default_model_path
from services.common.model import OnlineClassifier

log = logging.getLogger(__name__)


async def gpu_measures(
    texts: list[str], model: OnlineClassifier, max_length: int, batch: int = 64,
    rounds: int = 3, faiss_n: int = 1_000_000,
) -> list[Measure]:
    from services.common.encoding.torch_backend import TorchEncoder

    path = default_model_path()
    fp16 = TorchEncoder(path, device="cuda", max_length=max_length)
    fp32 = TorchEncoder(path, device="cuda", max_length=max_length, half=False)
    sample = texts[: batch * 4]
    fp16.encode(sample[:batch])
    fp32.encode(sample[:batch])
    r16, r32, ratios = [], [], []
    for r in range(rounds):
        a, v16 = encode_rate(fp16, sample, batch)
        b, v32 = encode_rate(fp32, sample, batch)
        r16.append(a)
        r32.append(b)
        ratios.append(a / b)
        cosine = np.sum(v16 * v32, axis=1)
        log.info("gpu round %d: fp16 %.0f/s fp32 %.0f/s", r, a, b)
    out = [Measure(
        key="gpu_torch_fp16_vs_fp32", title=f"torch CUDA fp16 / fp32 encode rate, batch {batch}",
        ours=median(r16), baseline=median(r32), ratio=median(ratios), unit="texts/s",
        goal="informative", met=None,
        extra={"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())},
    )]
    out.append(await stream_vs_raw(fp16, model, texts[: batch * 8], batch, rounds, max_length,
                                   key="gpu_stream_vs_raw_encoder"))
    out.append(faiss_gpu_vs_cpu(faiss_n))
    return out


def faiss_gpu_vs_cpu(n: int, dim: int = 384, queries: int = 1000, k: int = 10) -> Measure:
    import faiss

    from services.scorer.index import faiss_gpu_available

    key, title = "gpu_faiss_search", f"faiss-gpu / faiss-cpu search, {n:,} x {dim}, k={k}"
    if not faiss_gpu_available():
        return Measure(key=key, title=title, ours=float("nan"), baseline=float("nan"),
                       unit="queries/s", goal="informative", met=None,
                       extra={"skipped": "faiss-gpu is not installed (pip install '.[gpu]')"})
    rng = np.random.default_rng(0)
    base = rng.standard_normal((n, dim), dtype=np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    q = base[rng.choice(n, queries, replace=False)] + 0.01
    cpu = faiss.IndexFlatIP(dim)
    cpu.add(base)
    gpu = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, cpu)
    gpu.search(q[:10], k)  # warm-up: kernels and scratch memory
    rates: dict[str, float] = {}
    found: dict[str, np.ndarray] = {}
    for name, index in (("cpu", cpu), ("gpu", gpu)):
        started = time.perf_counter()
        _, found[name] = index.search(q, k)
        rates[name] = queries / (time.perf_counter() - started)
    agree = float(np.mean(found["cpu"][:, 0] == found["gpu"][:, 0]))
    return Measure(key=key, title=title, ours=float(rates["gpu"]), baseline=float(rates["cpu"]),
                   unit="queries/s", goal="informative", met=None,
                   extra={"top1_agreement": agree, "queries": queries})
