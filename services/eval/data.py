"""Labelled streams from JSONL or CSV, and JSONL exports of the bundled 20NG and R8 data."""

from __future__ import annotations

import csv
import json
import random
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.common.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    label: str
    timestamp: float | None = None


def _parse_time(value: object, where: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidInput(
            f"{where}: timestamp {text!r} is neither a number nor ISO 8601") from None


def _rows(path: Path) -> list[tuple[str, dict[str, object]]]:
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", newline="") as fh:
            return [(f"{path}:{i + 2}", dict(row)) for i, row in enumerate(csv.DictReader(fh))]
    rows = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{i}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InvalidInput(f"{path}:{i}: expected a JSON object per line")
            rows.append((f"{path}:{i}", obj))
    return rows


def load_items(
    path: str | Path,
    text_field: str = "text",
    label_field: str = "label",
    timestamp_field: str | None = None,
) -> list[Item]:
    """Read a labelled stream; rows with an empty text or label are an error, not skipped."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    items = []
    for where, row in _rows(path):
        text, label = row.get(text_field), row.get(label_field)
        if text is None or not str(text).strip():
            raise InvalidInput(f"{where}: missing or empty field {text_field!r}")
        if label is None or not str(label).strip():
            raise InvalidInput(f"{where}: missing or empty field {label_field!r}")
        ts = None
        if timestamp_field is not None:
            if row.get(timestamp_field) in (None, ""):
                raise InvalidInput(f"{where}: missing field {timestamp_field!r}")
            ts = _parse_time(row[timestamp_field], where)
        items.append(Item(str(text).strip(), str(label).strip(), ts))
    if not items:
        raise InvalidInput(f"{path}: no rows")
    return items


def order_stream(items: list[Item], seed: int) -> list[Item]:
    """Time order when every item has a timestamp (stable for ties), else a seeded shuffle."""
    if items and all(it.timestamp is not None for it in items):
        return sorted(items, key=lambda it: it.timestamp or 0.0)
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def export_builtin(name: str, out_dir: Path, holdout_size: int = 2000, seed: int = 0,
                   stream_size: int | None = None) -> tuple[Path, Path]:
    """Write ``<name>-stream.jsonl`` (train split) and ``<name>-holdout.jsonl`` (a seeded
    subsample of the test split, so evaluation stays fast on CPU). With ``stream_size``, a
    seeded sample of that many train items, as ``<name>-<k>k-stream.jsonl``."""
    from services.common import datasets

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name if stream_size is None else f"{name}-{stream_size // 1000}k"
    stream_path = out_dir / f"{stem}-stream.jsonl"
    holdout_path = out_dir / f"{stem}-holdout.jsonl"
    train = datasets.load(name, "train")
    if stream_size is not None and len(train) > stream_size:
        train = random.Random(seed).sample(train, stream_size)
    test = datasets.load(name, "test")
    if len(test) > holdout_size:
        test = random.Random(seed).sample(test, holdout_size)
    for path, rows in ((stream_path, train), (holdout_path, test)):
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for ex in rows:
                fh.write(json.dumps({"text": ex.text, "label": ex.label}) + "\n")
        tmp.replace(path)
    return stream_path, holdout_path
