"""The demo's offline reference: curves, summary and PNG, on synthetic embeddings."""

from __future__ import annotations

import numpy as np

from services.cli.demo_report import Report, curve, plot
from services.stack.banner import banner
from services.stack.settings import StackSettings


def blobs(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centers = {"a": np.eye(8)[0] * 4, "b": np.eye(8)[1] * 4, "c": np.eye(8)[2] * 4}
    labels = [list(centers)[i % 3] for i in range(n)]
    X = np.stack([centers[y] + rng.normal(size=8) for y in labels])
    return X, labels


def test_curve_rises_with_labels_and_ends_at_every_label():
    X, y = blobs(120, 0)
    Xh, yh = blobs(60, 1)
    pts = curve(X, y, Xh, yh, points=10)
    counts = [n for n, _ in pts]
    assert counts[0] == 2 and counts[-1] == 120 and counts == sorted(set(counts))
    assert pts[-1][1] > 0.9  # separable blobs: the model learns them
    assert curve(X[:1], y[:1], Xh, yh) == []


def test_summary_and_png(tmp_path):
    report = Report(documents=1000, labels=100, served_accuracy=0.9,
                    active=[(2, 0.4), (100, 0.9)], full=[(2, 0.3), (100, 0.85), (1000, 0.95)])
    text = report.summary()
    assert "100 of 1000 documents seen (10.0%)" in text
    assert "0.850 with the first 100" in text  # random selection = full curve at 100 labels
    assert "95% of full supervision" in text
    path = plot(report, "t", tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_banner_says_where_how_and_what_next():
    text = banner(StackSettings(), 3.2)
    assert "alstream is ready (3.2s)" in text
    for port in (8001, 8002, 8003, 8004):
        assert f"http://127.0.0.1:{port}" in text
    assert "auth: off" in text and "development key" in text
    assert "ingest examples/documents.ndjson" in text
    assert "beyond localhost" in banner(StackSettings(http_host="0.0.0.0"), 1.0)
