"""A short `alstream demo`: the real stack and model, a small stream, the PNG and summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_short_demo_runs_the_loop_and_writes_its_png(tmp_path):
    png = tmp_path / "curve.png"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--docs", "150", "--holdout", "40",
         "--budget", "0.2", "--plot", str(png), "--timeout", "400"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = done.stdout
    assert "of 150 documents seen" in out
    assert "holdout accuracy (live /v1/classify)" in out
    labels = int(out.split("labels used")[1].split("of 150")[0])
    assert 10 <= labels <= 60  # the budget (20%) was asked for and answered, not the stream
    assert "scored   150/150" in done.stderr  # the progress line reached the end
