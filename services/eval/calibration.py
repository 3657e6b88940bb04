"""Holdout accuracy and calibration: expected calibration error and reliability bins.

ECE (Guo et al. 2017): predictions are binned by confidence (the top probability) into
``bins`` equal-width bins; ECE is the item-weighted mean of |accuracy - mean confidence| over
the bins. ``/classify`` users read ``confidence``, and the selection thresholds depend on the
probabilities, so both need them to mean what they say.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BINS = 15


def calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> tuple[
    float, list[dict[str, float]]
]:
    """ECE and the per-bin ``{lo, hi, n, confidence, accuracy}`` (empty bins left out)."""
    if len(confidence) == 0:
        return 0.0, []
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if not count:
            continue
        conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        out.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": count,
                    "confidence": conf, "accuracy": acc})
    return ece_of(out), out


def ece_of(bins: list[dict[str, float]]) -> float:
    """ECE from reliability bins: the item-weighted mean gap between accuracy and confidence."""
    total = sum(b["n"] for b in bins) or 1
    return float(sum(b["n"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins))


def holdout_scores(model: Any, X: np.ndarray, y: Sequence[str]) -> dict[str, Any]:
    """Accuracy, ECE and reliability bins of ``model`` on a labelled holdout. No prediction
    counts as wrong at confidence 0."""
    if not len(y):
        return {"accuracy": 0.0, "ece": 0.0, "bins": []}
    many = getattr(model, "predict_proba_many", None)
    probs = many(X) if many is not None else [model.predict_proba_one(x) for x in X]
    conf = np.zeros(len(y))
    correct = np.zeros(len(y), dtype=bool)
    for i, (p, label) in enumerate(zip(probs, y, strict=True)):
        if p:
            top = max(p, key=p.__getitem__)
            conf[i] = p[top]
            correct[i] = top == label
    ece, bins = calibration(conf, correct)
    return {"accuracy": float(correct.mean()), "ece": ece, "bins": bins}


def plot_reliability(diagrams: dict[str, list[dict[str, float]]], path: Path, title: str) -> None:
    """One reliability diagram per entry (e.g. per stream): accuracy against confidence per
    bin, the diagonal being perfect calibration; marker area shows how many items a bin has."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(diagrams))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), dpi=110, squeeze=False)
    for ax, (name, bins) in zip(axes[0], diagrams.items(), strict=False):
        total = sum(b["n"] for b in bins) or 1
        ece = ece_of(bins)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], color="tab:blue")
        ax.scatter([b["confidence"] for b in bins], [b["accuracy"] for b in bins],
                   s=[8 + 400 * b["n"] / total for b in bins], color="tab:blue", alpha=0.6)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{name}\nECE {ece:.3f}", fontsize=9)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
