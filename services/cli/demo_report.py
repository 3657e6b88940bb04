"""The demo's closing numbers: the served model on a holdout, and an offline reference.

The reference replays, with the same model class the trainer runs, (a) the labels the live
loop asked for, in the order they were given, and (b) every document of the stream labelled in
stream order (full supervision; the stream is shuffled, so its first k labels are also a random
selection of k). Each is scored on the holdout as labels accumulate: the PNG's learning curves.
Embeddings come from the scorer's ONNX encoder and are cached under .cache/embeddings, so a
second demo skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.cli.demo_data import DemoData
from services.client import Client
from services.common.model import OnlineClassifier

Curve = list[tuple[int, float]]


@dataclass
class Report:
    documents: int
    labels: int
    served_accuracy: float
    active: Curve
    full: Curve

    def full_at(self, labels: int) -> float:
        """Full supervision's accuracy after ``labels`` labels: random selection's."""
        return next((acc for n, acc in self.full if n >= labels), float("nan"))

    @property
    def full_accuracy(self) -> float:
        return self.full[-1][1]

    def summary(self) -> str:
        share = self.labels / self.documents if self.documents else 0.0
        rand = self.full_at(self.labels)
        return "\n".join([
            f"labels used        {self.labels} of {self.documents} documents seen ({share:.1%})",
            f"served model       {self.served_accuracy:.3f} holdout accuracy (live /v1/classify)",
            f"full supervision   {self.full_accuracy:.3f} with all {self.documents} labels "
            f"(offline, same model class)",
            f"random selection   {rand:.3f} with the first {self.labels} stream documents "
            f"labelled (offline)",
            f"active learning reached {self.active[-1][1] / self.full_accuracy:.0%} of full "
            f"supervision with {share:.0%} of the labels" if self.active else "",
        ])


def served_accuracy(client: Client, data: DemoData) -> float:
    hits = sum(client.classify(ex.text).label == ex.label for ex in data.holdout)
    return hits / len(data.holdout) if data.holdout else 0.0


def embed(texts: list[str], cache_root: Path) -> np.ndarray:
    from services.common.encoding import default_model_path, make_encoder
    from services.eval.embeddings import EmbeddingCache, model_identity

    key = f"{model_identity(default_model_path())}-len256-onnx-int8"
    cache = EmbeddingCache(cache_root, key)
    if not cache.missing(texts):
        return cache.get(texts)
    encoder = make_encoder("onnx", device="cpu", max_length=256)
    return cache.get(texts, encoder.encode, batch_size=32, progress=True)


def curve(X: np.ndarray, y: list[str], Xh: np.ndarray, yh: list[str], points: int = 30,
          kind: str = "lda") -> Curve:
    """Holdout accuracy after 2, ..., len(y) labels, at about ``points`` log-spaced counts."""
    if len(y) < 2:
        return []
    marks = sorted({round(float(v)) for v in np.geomspace(2, len(y), points)} | {len(y)})
    model = OnlineClassifier(kind=kind)  # type: ignore[arg-type]
    out: Curve = []
    learned = 0
    for mark in marks:
        for i in range(learned, mark):
            model.learn_one(X[i], y[i])
        learned = mark
        preds = model.predict_many(Xh)
        out.append((mark, float(np.mean([p == t for p, t in zip(preds, yh, strict=True)]))))
    return out


def reference(data: DemoData, labeled: list[tuple[str, str]], served: float,
              cache_root: Path) -> Report:
    texts = [ex.text for _, ex in data.stream]
    X = embed(texts + [ex.text for ex in data.holdout], cache_root)
    Xs, Xh = X[: len(texts)], X[len(texts):]
    yh = [ex.label for ex in data.holdout]
    row = {doc_id: i for i, (doc_id, _) in enumerate(data.stream)}
    y_all = [ex.label for _, ex in data.stream]
    picked = [row[i] for i, _ in labeled if i in row]
    return Report(
        documents=len(texts), labels=len(picked), served_accuracy=served,
        active=curve(Xs[picked], [lab for i, lab in labeled if i in row], Xh, yh),
        full=curve(Xs, y_all, Xh, yh),
    )


def plot(report: Report, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    for name, pts, style in [
        ("every document labelled, in stream order (= random selection)", report.full, "--"),
        ("alstream's selection (this run's labels, in order)", report.active, "-"),
    ]:
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, style, marker="o", markersize=3, label=name,
                    linewidth=2.2 if "alstream" in name else 1.4)
    ax.axhline(report.served_accuracy, color="grey", linestyle=":", linewidth=1.2,
               label=f"served model at the end: {report.served_accuracy:.2f}")
    ax.axvline(report.labels, color="grey", linewidth=0.8, alpha=0.5)
    ax.annotate(f"{report.labels} labels asked\n({report.labels / report.documents:.0%} of the "
                "stream)", (report.labels, 0.2), xytext=(4, 0), textcoords="offset points",
                fontsize=8, color="dimgrey")
    ax.set_xscale("log")
    ax.set_xlabel("labels used (log scale)")
    ax.set_ylabel("holdout accuracy")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
