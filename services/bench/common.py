"""Shared pieces: the texts, timing helpers and the result record."""

from __future__ import annotations

import os
import random
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from services.common.datasets import load


@dataclass
class Measure:
    """One line of the report: ours against a baseline taken in the same run."""

    key: str
    title: str
    ours: float
    baseline: float
    unit: str
    goal: str
    met: bool | None
    ratio: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.ratio:
            self.ratio = self.ours / self.baseline if self.baseline else float("nan")

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("key")
        return out


def texts(n: int, seed: int = 0, split: str = "test") -> list[str]:
    """Real 20 Newsgroups posts in a fixed shuffled order (topics mixed, lengths realistic)."""
    rows = [e.text for e in load("20ng", split)]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def labelled(n: int, seed: int = 1) -> list[tuple[str, str]]:
    rows = [(e.text, e.label) for e in load("20ng", "train")]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB, from /proc."""
    fields: dict[str, float] = {}
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)
