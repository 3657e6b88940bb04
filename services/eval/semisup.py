"""How much would unlabeled items help the model at a small label budget? An offline study.

The service's model learns from labels only. This study measures what that leaves on the table
(issue 13: 20 Newsgroups at 2 % reaches 87 % of full supervision; random labels alone reach the
same model's ceiling there, so selection cannot close the gap by itself). It fits the service's
LDA (class means, one shared scatter, the isotropic covariance prior of
services/common/lda.py) on a seeded uniform sample of a stream's labels, then refines it by EM
over the stream's *unlabeled* items: each contributes its class responsibilities under the
current fit, at weight ``alpha`` per item. Holdout accuracy, supervised against refined.

Offline and transductive (every unlabeled item of the stream, later ones included): an upper
bound for a streaming version, which must also survive drift (a prototype refining on a window
of recent items, kept only when the fair records' leave-one-out loss improves, is measured in
docs/evaluation.md with these results).

Usage (after ``make eval`` has cached the streams and embeddings):
    python -m services.eval.semisup 20ng 20ng-short-drift --fraction 0.02 --seeds 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from services.common.rows import softmax


def fit_lda(X: np.ndarray, R: np.ndarray, prior_strength: float = 500.0) -> tuple[
        np.ndarray, np.ndarray]:
    """LDA from soft responsibilities ``R`` (n x k; one-hot rows for labels): the weights
    ``W`` and offsets ``b`` of the logits ``X @ W.T + b``, equal to StreamingLDA's for the
    same records (tests/unit/eval/test_semisup.py)."""
    counts = R.sum(axis=0)
    means = (R.T @ X) / counts[:, None]
    d = X.shape[1]
    scatter = np.eye(d) * (prior_strength / d)
    for c in range(R.shape[1]):
        diff = X - means[c]
        scatter += (diff * R[:, c:c + 1]).T @ diff
    W = means @ np.linalg.inv(scatter) * (counts.sum() + prior_strength)
    return W, -0.5 * np.einsum("ij,ij->i", W, means)


def em_refine(X: np.ndarray, Y: np.ndarray, U: np.ndarray, *, alpha: float = 0.1,
              beta: float = 0.3, iterations: int = 3,
              prior_strength: float = 500.0) -> tuple[np.ndarray, np.ndarray]:
    """Fit on labels ``X``/``Y`` (one-hot), then ``iterations`` EM steps over unlabeled
    ``U``. ``beta``: the inverse temperature of the responsibilities (the service fits 0.2
    to 0.6 on MiniLM embeddings); ``alpha``: an unlabeled item's weight against a label's 1."""
    W, b = fit_lda(X, Y, prior_strength)
    if not len(U):
        return W, b
    both = np.vstack([X, U])
    for _ in range(iterations):
        soft = softmax(beta * (U @ W.T + b))
        R = np.vstack([Y, alpha * soft])
        W, b = fit_lda(both, R, prior_strength)
    return W, b


def study(X: np.ndarray, y: np.ndarray, Xh: np.ndarray, yh: np.ndarray, fraction: float,
          seeds: int, alphas: tuple[float, ...] = (0.1, 0.3, 1.0)) -> dict[str, float]:
    """Mean holdout accuracy over ``seeds`` uniform label samples: supervised, then refined."""
    classes = sorted(set(y.tolist()))
    onehot = (y[:, None] == np.array(classes)[None, :]).astype(float)
    truth = np.array([classes.index(v) for v in yh])
    scores: dict[str, list[float]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(y), max(len(classes), int(fraction * len(y))), replace=False)
        rest = np.setdiff1d(np.arange(len(y)), picked)
        # Classes no label was drawn for cannot be predicted, as in the service.
        seen = np.flatnonzero(onehot[picked].sum(axis=0) > 0)
        Y = onehot[picked][:, seen]
        fits = {"supervised": fit_lda(X[picked], Y)}
        for alpha in alphas:
            fits[f"em alpha={alpha}"] = em_refine(X[picked], Y, X[rest], alpha=alpha)
        for name, (W, b) in fits.items():
            acc = float((seen[(Xh @ W.T + b).argmax(axis=1)] == truth).mean())
            scores.setdefault(name, []).append(acc)
    return {name: float(np.mean(v)) for name, v in scores.items()}


def main(argv: list[str] | None = None) -> None:
    from services.eval.data import load_items
    from services.eval.embeddings import default_cache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("streams", nargs="+", help="eval stream names, e.g. 20ng r8-drift")
    parser.add_argument("--fraction", type=float, default=0.02, help="share of labels")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(".cache/eval"))
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args(argv)
    cache, _ = default_cache(Path(".cache/embeddings"), max_length=args.max_length)
    for name in args.streams:
        stream = load_items(args.data / f"{name}-stream.jsonl", "text", "label")
        holdout = load_items(args.data / f"{name}-holdout.jsonl", "text", "label")
        X = cache.get([it.text for it in stream])
        Xh = cache.get([it.text for it in holdout])
        result = study(X, np.array([it.label for it in stream]), Xh,
                       np.array([it.label for it in holdout]), args.fraction, args.seeds)
        cells = "  ".join(f"{k}: {v:.4f}" for k, v in result.items())
        print(f"{name} at {args.fraction:.0%} labels ({args.seeds} seeds): {cells}", flush=True)


if __name__ == "__main__":
    main()
