"""``alstream demo``: the whole loop on a real dataset, on CPU, in a few minutes.

The embedded stack runs as a child process on free ports. A feeder streams documents into
ingest, paced by what the scorer has scored (so the model improves while the stream flows, as
it would in production); a simulated reviewer answers the review queue with the dataset's true
labels; a progress line shows what the loop is doing. At the end, the served model is measured
on a holdout and compared, offline, with full supervision (demo_report.py).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.cli.demo_data import DemoData
from services.client import Client, Endpoints

ROOT = Path(__file__).resolve().parents[2]
_SCORED = re.compile(r"^alstream_scorer_documents_scored_total (\S+)$", re.M)


@dataclass
class Progress:
    sent: int = 0
    scored: int = 0
    asked: int = 0
    labeled: list[tuple[str, str]] = field(default_factory=list)  # (item id, label) in order
    version: int = 0
    prequential: float = 0.0
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackProcess:
    """``python -m services.stack`` on four free ports, its output in a log file."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        ports = [free_port() for _ in range(4)]
        self.endpoints = Endpoints(*[f"http://127.0.0.1:{p}" for p in ports])
        self.log_path = log_path
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "PYTHONUNBUFFERED": "1", **env}
        for name, port in zip(("INGEST", "SCORER", "REVIEW", "TRAINER"), ports, strict=True):
            self.env[f"ALSTREAM_{name}_PORT"] = str(port)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.stack"], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        urls = [self.endpoints.ingest, self.endpoints.scorer, self.endpoints.review,
                self.endpoints.trainer]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stack exited ({self.proc.returncode}); see "
                                   f"{self.log_path}:\n{self.tail()}")
            if all(_ready(u) for u in urls):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the stack was not ready after {timeout_s:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stack_env(data: DemoData, budget: float) -> dict[str, str]:
    return {
        "ALSTREAM_LABEL_SET": ",".join(data.descriptions),
        "ALSTREAM_LABEL_DESCRIPTIONS": json.dumps(data.descriptions),
        "ALSTREAM_LABEL_BUDGET": str(budget),
    }


def feed(client: Client, data: DemoData, p: Progress, stop: threading.Event,
         batch: int = 16, ahead: int = 48) -> None:
    """Send the stream in small batches, never more than ``ahead`` documents unscored."""
    docs = [{"id": doc_id, "text": ex.text} for doc_id, ex in data.stream]
    while p.sent < len(docs) and not stop.is_set():
        if p.sent - p.scored >= ahead:
            time.sleep(0.1)
            continue
        chunk = docs[p.sent:p.sent + batch]
        client.ingest(chunk)
        p.sent += len(chunk)


def review(client: Client, truth: dict[str, str], p: Progress, stop: threading.Event) -> None:
    """A perfect reviewer: lease, answer with the true label, repeat; idle when empty."""
    while not stop.is_set():
        item = client.review_next()
        if item is None:
            time.sleep(0.2)
            continue
        label = truth.get(item.item_id)
        if label is None:  # not one of ours; leave it for someone else
            client.skip(item.lease_id)
            continue
        client.label(item.lease_id, label)
        p.labeled.append((item.item_id, label))


def poll(client: Client, endpoints: Endpoints, p: Progress) -> None:
    metrics = httpx.get(f"{endpoints.scorer}/metrics", timeout=5).text
    match = _SCORED.search(metrics)
    p.scored = int(float(match.group(1))) if match else p.scored
    stats = client.review_stats()
    p.asked = int(stats.get("depth", 0)) + int(stats.get("leased", 0)) + len(p.labeled)
    p.version = client.model().version
    p.prequential = float(client.trainer_status().get("prequential_accuracy", 0.0))


def line(p: Progress, total: int, started: float) -> str:
    share = p.asked / p.scored if p.scored else 0.0
    return (f"{time.monotonic() - started:5.0f}s  scored {p.scored:>5}/{total}  "
            f"labels asked {p.asked:>4} ({share:5.1%})  labeled {len(p.labeled):>4}  "
            f"model v{p.version:<3}  prequential accuracy {p.prequential:.2f}")


def guarded(target, *args) -> threading.Thread:  # type: ignore[no-untyped-def]
    p: Progress = args[2]

    def run() -> None:
        try:
            target(*args)
        except Exception as exc:  # surfaced by the main loop, which then stops
            p.errors.append(f"{target.__name__}: {exc}")

    thread = threading.Thread(target=run, name=target.__name__, daemon=True)
    thread.start()
    return thread


def run_loop(client: Client, endpoints: Endpoints, data: DemoData, timeout_s: float,
             out=sys.stderr) -> Progress:  # type: ignore[no-untyped-def]
    """Stream, review and report until every document is scored, the queue is empty and
    the served model has learned every label; or until ``timeout_s``."""
    p = Progress()
    stop = threading.Event()
    threads = [guarded(feed, client, data, p, stop),
               guarded(review, client, data.truth, p, stop)]
    tty = out.isatty()
    started = last_print = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s and not p.errors:
            poll(client, endpoints, p)
            if tty:
                print("\r" + line(p, len(data.stream), started), end="", file=out, flush=True)
            elif time.monotonic() - last_print >= 10:
                print(line(p, len(data.stream), started), file=out, flush=True)
                last_print = time.monotonic()
            if p.scored >= len(data.stream) and p.asked == len(p.labeled) and _caught_up(
                    client, p):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    print(("\n" if tty else "") + line(p, len(data.stream), started), file=out, flush=True)
    if p.errors:
        raise RuntimeError("; ".join(p.errors))
    return p


def _caught_up(client: Client, p: Progress) -> bool:
    """The trainer learned and published every label, and the scorer serves what the trainer
    says should be served (a promotion gate may hold a candidate back: then that is the older
    version, and waiting for the newest would never end)."""
    status = client.trainer_status()
    if status.get("labels_learned", 0) < len(p.labeled) or status.get("labels_since_publish"):
        return False
    serving = int(status.get("serving_version", status.get("model_version", 0)))
    return client.model().version >= serving
