"""The drifting super-class stream, calibration metrics and the equal-label comparison."""

from __future__ import annotations

import numpy as np
import pytest

from services.eval.calibration import calibration
from services.eval.data import Item
from services.eval.drifting import BINARY, drifting, export
from services.eval.report import at_labels, summary


def test_drifting_stream_shifts_the_sub_group_mix_and_holds_out_the_latest():
    items = [Item(f"{sub} {i}", sub) for sub in ("a1", "a2", "b1", "b2", "x") for i in range(300)]
    stream, holdout = drifting(items, {"A": ["a1", "a2"], "B": ["b1", "b2"]}, seed=0)
    assert len(stream) + len(holdout) == 1200  # "x" is in no group: left out
    assert {it.label for it in stream} == {"A", "B"}
    times = [it.timestamp for it in stream + holdout]
    assert times == sorted(times)
    # Within A, a1 dominates early and a2 late: the super-class drifts.
    first, last = stream[:300], holdout
    share_a2 = [sum(it.text.startswith("a2") for it in part) /
                max(1, sum(it.label == "A" for it in part)) for part in (first, last)]
    assert share_a2[0] < 0.1 and share_a2[1] > 0.9
    # The class prior does not drift much.
    assert 0.35 < sum(it.label == "A" for it in first) / len(first) < 0.65


def test_short_text_stream_has_two_classes_and_cut_texts(tmp_path):
    import json

    subs = [s for group in BINARY["20ng"].values() for s in group] + ["rec.autos"]
    rows = [{"text": " ".join(f"w{j}" for j in range(40)) + f" {sub}", "label": sub}
            for sub in subs for _ in range(20)]
    for part in ("stream", "holdout"):
        (tmp_path / f"20ng-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stream_path, holdout_path = export("20ng", tmp_path, short=24)
    assert stream_path.name == "20ng-short-drift-stream.jsonl"
    out = [json.loads(line) for p in (stream_path, holdout_path)
           for line in p.read_text().splitlines()]
    assert {r["label"] for r in out} == {"comp", "sci"}  # rec.autos is in neither class
    assert len(out) == 2 * 20 * (len(subs) - 1)
    assert all(len(r["text"].split()) == 24 for r in out)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.4, 1.0, size=20000)
    correct = rng.random(20000) < conf  # calibrated by construction
    ece, bins = calibration(conf, correct)
    assert ece < 0.02 and sum(b["n"] for b in bins) == 20000
    over, _ = calibration(np.full(1000, 0.99), np.arange(1000) < 600)
    assert over == pytest.approx(0.39)


def _cell(labels: float, acc: float) -> dict[str, object]:
    return {"labels_used": {"mean": labels, "sd": 0.0},
            "holdout_accuracy": {"mean": acc, "sd": 0.0}}


def test_equal_label_comparison_interpolates_the_random_curve():
    random = {"0.02": _cell(100, 0.70), "0.1": _cell(400, 0.80)}
    assert at_labels(random, 200) == pytest.approx(0.75)  # halfway in log(labels)
    assert at_labels(random, 100) == pytest.approx(0.70)
    assert at_labels(random, 50) is None and at_labels(random, 1000) is None
    assert at_labels(random, 98) == pytest.approx(0.70)  # within 3% of a cell: that cell
    data = {"stream": "x/s-stream.jsonl", "results": {
        "default": {"0.1": {**_cell(200, 0.78), "spend_max": 1.0,
                            "ece": {"mean": 0.03, "sd": 0.0}}},
        "random": random,
        "full": {"1": _cell(4000, 0.82)}}}
    text = summary([data], budgets=("0.1",))
    assert "+3.0 pt" in text  # 0.78 vs random at 200 labels (0.75)
    assert "-2.0 pt" in text  # 0.78 vs random at the same nominal budget (0.80)
