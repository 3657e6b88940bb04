"""Measure 3 (/classify under concurrency) and 4 (resident memory per backend).

Each scorer is a fresh process (services.bench.server) on 127.0.0.1, driven by httpx from this
one: ours (ONNX + micro-batcher), the same backend encoding per request without batching, and
the scorer as it was before (torch fp32, per request). Levels alternate which server goes
first. Memory is read from /proc of each server after it has served every level.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.bench.common import Measure, median, percentile

log = logging.getLogger(__name__)


@dataclass
class Server:
    name: str
    args: list[str]
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    latencies: dict[str, list[float]] = field(default_factory=dict)
    rates: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> tuple[float, float]:
        assert self.proc is not None
        values: dict[str, float] = {}
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(value.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(servers: list[Server], model: Path, timeout_s: float = 300) -> Iterator[None]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        for server in servers:
            server.port = _free_port()
            server.proc = subprocess.Popen(
                [sys.executable, "-m", "services.bench.server", "--port", str(server.port),
                 "--model", str(model), *server.args],
                stdout=subprocess.PIPE, text=True, env=env,
            )
            # One at a time: the first may build the ONNX artifact for the others.
            deadline = time.monotonic() + timeout_s
            assert server.proc.stdout is not None
            while (line := server.proc.stdout.readline()) != "READY\n":
                if not line or time.monotonic() > deadline:
                    raise RuntimeError(f"bench server {server.name} did not start")
        yield
    finally:
        for server in servers:
            if server.proc is not None:
                server.proc.terminate()
                try:
                    server.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.proc.kill()


async def load(
    server: Server, texts: list[str], concurrency: int, n: int, tag: str = ""
) -> None:
    """``n`` requests from ``concurrency`` clients, each sending its next request on answer."""
    latencies: list[float] = []
    queue = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=300) as client:

        async def worker() -> None:
            for i in queue:
                started = time.perf_counter()
                resp = await client.post("/v1/classify", json={"text": texts[i % len(texts)]})
                latencies.append(time.perf_counter() - started)
                if resp.status_code != 200:
                    server.errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    server.latencies.setdefault(f"{tag}{concurrency}", []).extend(latencies)
    server.rates.setdefault(f"{tag}{concurrency}", []).append(n / elapsed)
    log.info("%s c=%d: %.1f req/s, p50 %.0f ms", server.name, concurrency, n / elapsed,
             1000 * median(latencies))


async def classify_bench(
    model: Path, texts: list[str], levels: dict[int, int], reps: int, torch_level: int = 16,
    torch_requests: int = 48,
) -> list[Measure]:
    ours = Server("ours: onnx + micro-batcher", ["--backend", "onnx"])
    per_request = Server("onnx per request", ["--backend", "onnx", "--per-request"])
    before = Server("torch fp32 per request (before)", ["--backend", "torch", "--per-request"])
    pair = [ours, per_request]
    with running([ours, per_request, before], model):
        for server in (ours, per_request, before):  # warm-up: first calls allocate
            await load(server, texts[-16:], 4, 8)
            server.latencies.clear()
            server.rates.clear()
        for rep in range(reps):
            for i, (concurrency, n) in enumerate(levels.items()):
                for server in (pair if (i + rep) % 2 == 0 else pair[::-1]):
                    await load(server, texts, concurrency, n)
        await load(before, texts, torch_level, torch_requests, tag="vs-torch-")
        await load(ours, texts, torch_level, torch_requests, tag="vs-torch-")
        # Supplementary: short texts (the first 30 words), where one text leaves the CPU's
        # matrix units underused and batching can pay.
        short = [" ".join(t.split()[:30]) for t in texts]
        for rep in range(reps):
            for server in (pair if rep % 2 == 0 else pair[::-1]):
                await load(server, short, 16, 4 * levels[16], tag="short-")
        memory = {s.name: s.rss_mb() for s in (ours, per_request, before)}
    out = [_level(ours, per_request, c, f"{c}") for c in levels]
    out.append(_level(ours, before, torch_level, f"vs-torch-{torch_level}",
                      key=f"classify_c{torch_level}_vs_torch_before",
                      goal="informative: all of this issue's changes together"))
    out.append(_level(ours, per_request, 16, "short-16", key="classify_c16_short_texts",
                      goal="informative: texts cut to 30 words"))
    (rss, peak), (base_rss, base_peak) = memory[ours.name], memory[before.name]
    out.append(Measure(
        key="scorer_rss_onnx_vs_torch", title="Scorer resident memory after the /classify load",
        ours=rss, baseline=base_rss, unit="MB", goal="ONNX <= 400 MB", met=bool(rss <= 400),
        extra={"ours_peak_mb": peak, "torch_peak_mb": base_peak,
               "onnx_per_request_rss_mb": memory[per_request.name][0]},
    ))
    return out


def _level(ours: Server, base: Server, c: int, run: str, key: str | None = None,
           goal: str | None = None) -> Measure:
    o_lat, b_lat = ours.latencies[run], base.latencies[run]
    ratio = median(ours.rates[run]) / median(base.rates[run])
    p99, base_p99 = percentile(o_lat, 99), percentile(b_lat, 99)
    met = bool(ratio >= 3 and p99 < base_p99) if c == 16 and goal is None else None
    return Measure(
        key=key or f"classify_c{c}", title=f"/classify requests/s at concurrency {c}",
        ours=median(ours.rates[run]), baseline=median(base.rates[run]), ratio=ratio,
        unit="req/s",
        goal=goal or (">= 3x baseline, lower p99" if c == 16 else "informative"), met=met,
        extra={"baseline": base.name, "requests": len(o_lat),
               "p50_ms": 1000 * percentile(o_lat, 50), "p99_ms": 1000 * p99,
               "baseline_p50_ms": 1000 * percentile(b_lat, 50), "baseline_p99_ms": 1000 * base_p99,
               "errors": ours.errors, "baseline_errors": base.errors},
    )
