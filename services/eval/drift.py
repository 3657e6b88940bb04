"""Scripted drift on a labelled stream: does the drift coupling recover accuracy faster?

The classes are split (seeded) into two halves. The stream first shows only the first half;
at ``change_at`` of the way through, the second half's classes appear, mixed with the rest of
the first half's items. Every strategy replays the same streams; we report windowed
prequential accuracy around the change, accuracy over the first items after it, labels used,
drift events and final holdout accuracy (all classes).

    python -m services.eval.drift --stream .cache/eval/20ng-stream.jsonl \\
        --holdout .cache/eval/20ng-holdout.jsonl --json OUT.json --plot docs/eval-drift.png
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.selection import make_strategy
from services.eval.data import Item, load_items
from services.eval.embeddings import default_cache
from services.eval.replay import replay

WINDOW = 250


def phased(items: list[Item], seed: int, change_at: float) -> tuple[list[Item], int]:
    """The drifting stream and the index of its first item after the change."""
    rng = random.Random(seed)
    classes = sorted({it.label for it in items})
    rng.shuffle(classes)
    first = set(classes[: len(classes) // 2])
    old = [it for it in items if it.label in first]
    new = [it for it in items if it.label not in first]
    rng.shuffle(old)
    rng.shuffle(new)
    change = round(change_at * len(items))
    change = min(change, len(old))
    after = old[change:] + new
    rng.shuffle(after)
    return old[:change] + after, change


def run(stream: list[Item], holdout: list[Item], embed: Any, strategies: Sequence[str],
        budgets: Sequence[float], seeds: int, change_at: float, label_delay: int,
        progress: bool = True, refine: RefineConfig | None = None) -> dict[str, Any]:
    X_holdout = embed([it.text for it in holdout])
    y_holdout = [it.label for it in holdout]
    vectors = dict(zip((it.text for it in stream), embed([it.text for it in stream]),
                       strict=True))
    cells: dict[str, Any] = {}
    bar = tqdm(total=len(strategies) * len(budgets) * seeds, desc="drift scenario",
               disable=not progress)
    change = 0
    for budget in budgets:
        for name in strategies:
            runs = []
            for seed in range(seeds):
                items, change = phased(stream, seed, change_at)
                X = np.stack([vectors[it.text] for it in items])
                y = [it.label for it in items]
                result = replay(X, y, X_holdout, y_holdout, make_strategy(name, budget, seed),
                                OnlineClassifier(), label_delay=label_delay, checkpoints=0,
                                window=WINDOW, publish_every=20, publish_items=300,
                                budget=budget, refine=refine)
                first = change // WINDOW
                runs.append({
                    "seed": seed,
                    "labels_used": result.labels_used,
                    "holdout_accuracy": result.holdout_accuracy,
                    "prequential_accuracy": result.prequential_accuracy,
                    "window_accuracy": result.window_accuracy,
                    "after_change_1000": statistics.fmean(result.window_accuracy[first:first + 4]),
                    "after_change_3000": statistics.fmean(
                        result.window_accuracy[first:first + 12]),
                    "drift_events": result.drift_events,
                    "spend": result.labels_used / (budget * len(y)),
                    "ece": result.ece,
                    "reasons": result.reasons,
                })
                bar.update(1)
            cells.setdefault(name, {})[f"{budget:g}"] = _summary(runs)
    bar.close()
    return {"change_at_item": change, "window": WINDOW, "results": cells}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def ms(key: str) -> dict[str, float]:
        vals = [float(r[key]) for r in runs]
        return {"mean": statistics.fmean(vals),
                "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0}

    curves = np.array([r["window_accuracy"] for r in runs])
    return {
        **{k: ms(k) for k in ("labels_used", "holdout_accuracy", "prequential_accuracy",
                              "after_change_1000", "after_change_3000")},
        "window_accuracy_mean": curves.mean(axis=0).tolist(),
        "runs": runs,
    }


def table(out: dict[str, Any]) -> str:
    rows = [["strategy", "budget", "labels", "acc first 1000 after", "first 3000 after",
             "holdout (end)", "drift events"]]
    for name, cells in out["results"].items():
        for b, c in cells.items():
            events = [sum((r["drift_events"] or {}).values()) for r in c["runs"]]
            rows.append([name, b, f"{c['labels_used']['mean']:.0f}",
                         f"{c['after_change_1000']['mean']:.3f}±{c['after_change_1000']['sd']:.3f}",
                         f"{c['after_change_3000']['mean']:.3f}±{c['after_change_3000']['sd']:.3f}",
                         f"{c['holdout_accuracy']['mean']:.3f}±{c['holdout_accuracy']['sd']:.3f}",
                         f"{statistics.fmean(events):.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({b for cells in out["results"].values() for b in cells}, key=float)
    fig, axes = plt.subplots(1, len(budgets), figsize=(6 * len(budgets), 4), dpi=110,
                             squeeze=False)
    for ax, b in zip(axes[0], budgets, strict=True):
        for name, cells in out["results"].items():
            if b in cells:
                curve = cells[b]["window_accuracy_mean"]
                xs = [(i + 1) * out["window"] for i in range(len(curve))]
                ax.plot(xs, curve, label=f"{name} ({cells[b]['labels_used']['mean']:.0f} labels)")
        ax.axvline(out["change_at_item"], color="grey", linestyle=":", label="new classes appear")
        ax.set_title(f"budget {float(b):.0%}")
        ax.set_xlabel("stream item")
        ax.set_ylabel(f"prequential accuracy (window {out['window']})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.eval.drift", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stream", type=Path, default=Path(".cache/eval/20ng-stream.jsonl"))
    p.add_argument("--holdout", type=Path, default=Path(".cache/eval/20ng-holdout.jsonl"))
    p.add_argument("--strategies", default="selector,selector_nodrift,random")
    p.add_argument("--budgets", default="0.05,0.1")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--change-at", type=float, default=0.3,
                   help="share of the stream before the new classes appear")
    p.add_argument("--label-delay", type=int, default=0)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--plot", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/embeddings"))
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-refine", action="store_true",
                   help="no semi-supervised refinement (the trainer's semisup_enabled=false)")
    args = p.parse_args(argv)
    stream, holdout = load_items(args.stream), load_items(args.holdout)
    cache, make_encoder = default_cache(args.cache_dir)
    encoder = None

    def embed(texts: list[str]) -> np.ndarray:
        nonlocal encoder
        if cache.missing(texts) and encoder is None:
            encoder = make_encoder()
        return cache.get(texts, encoder, progress=not args.quiet)

    out = run(stream, holdout, embed, args.strategies.split(","),
              [float(b) for b in args.budgets.split(",")], args.seeds, args.change_at,
              args.label_delay, progress=not args.quiet,
              refine=None if args.no_refine else RefineConfig())
    out.update({"stream": str(args.stream), "seeds": args.seeds, "change_at": args.change_at,
                "label_delay": args.label_delay, "refine": not args.no_refine})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))
    print(table(out))
    if args.plot is not None:
        plot(out, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
