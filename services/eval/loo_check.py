"""Is the temperature fitted on the right evidence? A diagnostic for docs/evaluation.md.

Replays one stream as the service would (default strategy, refinement on), then compares the
inverse temperature that best fits three sets of logits: the fair records' *fast*
leave-one-out (what the model fits on: the record leaves the labeled statistics, the
unlabeled population stays), their *exact* leave-one-out (unlearn the record and redo the
refinement on the same window), and the holdout. When fast and exact disagree, the
refinement's response to a record is what makes it look easier than a new item.

    python -m services.eval.loo_check 20ng --budget 0.02 --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.common.lda import StreamingLDA
from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.rows import softmax
from services.common.selection import make_strategy
from services.eval.data import load_items, order_stream
from services.eval.embeddings import default_cache
from services.eval.replay import replay

GRID = np.exp(np.linspace(-4.0, 1.0, 80))


def best_beta(z: np.ndarray, idx: np.ndarray) -> float:
    """The inverse temperature on GRID with the lowest log-loss of logits ``z``."""
    rows = np.arange(len(idx))
    losses = [-np.mean(np.log(softmax(b * z)[rows, idx] + 1e-12)) for b in GRID]
    return float(GRID[int(np.argmin(losses))])


def exact_loo_logits(model: StreamingLDA, X: np.ndarray, idx: np.ndarray, window: np.ndarray,
                     config: RefineConfig) -> np.ndarray:
    """Logits of each record as if never learned, the refinement redone without it (kept
    or dropped as the model's own was). A record alone in its class keeps its logits, as in
    the fast leave-one-out (without it the class would not exist)."""
    refined = model.population_weight > 0
    fast = model._held_out_logits(X, idx)
    out = []
    for j, (x, c) in enumerate(zip(X, idx, strict=True)):
        if model.rows.counts[c] <= 1:
            out.append(fast[j])
            continue
        m = copy.deepcopy(model)
        m.clear_population()
        m.unlearn(x, m.rows.labels[c])
        if refined:
            m.refine(window, config.steps, config.weight, min_gain=-np.inf)
        out.append(m.logits(x[None])[0])
    return np.stack(out)


def check(stream_name: str, budget: float, seed: int, data_dir: Path,
          cache_dir: Path) -> dict[str, float]:
    drifting = stream_name.endswith("drift")
    stream = load_items(data_dir / f"{stream_name}-stream.jsonl", "text", "label",
                        "t" if drifting else None)
    holdout = load_items(data_dir / f"{stream_name}-holdout.jsonl", "text", "label")
    cache, _ = default_cache(cache_dir, max_length=256)
    index = {id(it): i for i, it in enumerate(stream)}
    X_all = cache.get([it.text for it in stream])
    order = [index[id(it)] for it in order_stream(stream, seed)]
    X, y = X_all[order], [stream[i].label for i in order]
    Xh, yh = cache.get([it.text for it in holdout]), [it.label for it in holdout]
    config = RefineConfig()
    model = OnlineClassifier()
    run = replay(X, y, Xh, yh, make_strategy("default", budget, seed=seed), model,
                 label_delay=20, checkpoints=0, publish_every=20, publish_items=300,
                 budget=budget, refine=config)
    lda = model._learner
    assert isinstance(lda, StreamingLDA)
    asked = set(run.asked_at)
    window = np.stack([X[i] for i in range(len(y)) if i not in asked][-config.window:])
    lda.refine(window, config.steps, config.weight, config.min_gain)  # as at a last publish
    fair = lda._fair_records()
    if fair is None:
        raise SystemExit("fewer than 10 fair records: nothing to compare")
    Xf, idx = fair
    yi = np.array([lda.rows.index[c] for c in yh])
    return {"seed": seed, "refined": float(lda.population_weight > 0),
            "fast": best_beta(lda._held_out_logits(Xf, idx), idx),
            "exact": best_beta(exact_loo_logits(lda, Xf, idx, window, config), idx),
            "holdout": best_beta(lda.logits(Xh), yi)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.eval.loo_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stream", help="a stream name from make eval, e.g. 20ng or 20ng-drift")
    p.add_argument("--budget", type=float, default=0.02)
    p.add_argument("--seeds", default="0")
    p.add_argument("--data-dir", type=Path, default=Path(".cache/eval"))
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/embeddings"))
    args = p.parse_args(argv)
    print("seed  refined  best inverse temperature: fast LOO  exact LOO  holdout")
    for seed in (int(s) for s in args.seeds.split(",")):
        r = check(args.stream, args.budget, seed, args.data_dir, args.cache_dir)
        print(f"{seed:>4}  {r['refined']:>7.0f}  {r['fast']:>33.3f}  {r['exact']:>9.3f}  "
              f"{r['holdout']:>7.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
