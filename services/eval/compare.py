"""Run strategies x budgets x seeds over one stream and summarize (mean and sd per cell)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from tqdm import tqdm

from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.selection import make_strategy
from services.common.selection.registry import DEFAULT_STRATEGY
from services.eval.data import Item, order_stream
from services.eval.replay import Model, RunResult, replay

Embed = Callable[[list[str]], np.ndarray]
FULL_BUDGET = 1.0


def _cells(strategies: Sequence[str], budgets: Sequence[float]) -> list[tuple[str, float]]:
    cells = []
    for name in strategies:
        # Full supervision ignores the budget: one cell, reported at budget 1.0.
        for b in [FULL_BUDGET] if name == "full" else budgets:
            cells.append((name, b))
    return cells


def summarize(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": float(statistics.fmean(values)),
        "sd": float(statistics.stdev(values)) if len(values) > 1 else 0.0,
    }


def compare(
    stream: list[Item],
    holdout: list[Item],
    embed: Embed,
    strategies: Sequence[str],
    budgets: Sequence[float],
    seeds: int,
    label_delay: int = 0,
    checkpoints: int = 10,
    model_factory: Callable[[], Model] = OnlineClassifier,
    progress: bool = True,
    publish_every: int = 0,
    publish_items: int = 0,
    refine: RefineConfig | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{strategy: {budget: cell}}`` with ``labels_used``, ``holdout_accuracy`` and
    ``prequential_accuracy`` as ``{"mean", "sd"}`` plus every run's details."""
    X_all = embed([it.text for it in stream])
    index = {id(it): i for i, it in enumerate(stream)}
    X_holdout = embed([it.text for it in holdout])
    y_holdout = [it.label for it in holdout]
    orders = [[index[id(it)] for it in order_stream(stream, seed)] for seed in range(seeds)]
    cells = _cells(strategies, budgets)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    bar = tqdm(total=len(cells) * seeds * len(stream), unit="item", unit_scale=True,
               desc="replaying", disable=not progress)
    for name, budget in cells:
        runs: list[RunResult] = []
        for seed, order in enumerate(orders):
            bar.set_postfix_str(f"{name} b={budget:g} seed={seed}")
            X = X_all[order]
            y = [stream[i].label for i in order]
            counter = {"n": 0}

            def tick(counter: dict[str, int] = counter) -> None:
                counter["n"] += 1
                if counter["n"] % 500 == 0:
                    bar.update(500)

            run = replay(X, y, X_holdout, y_holdout, make_strategy(name, budget, seed=seed),
                         model_factory(), label_delay=label_delay, checkpoints=checkpoints,
                         on_item=tick, publish_every=publish_every,
                         publish_items=publish_items, budget=budget, refine=refine)
            bar.update(counter["n"] % 500)
            runs.append(run)
        results.setdefault(name, {})[f"{budget:g}"] = {
            "budget": budget,
            "strategy": DEFAULT_STRATEGY if name == "default" else name,
            "labels_used": summarize([r.labels_used for r in runs]),
            "holdout_accuracy": summarize([r.holdout_accuracy for r in runs]),
            "prequential_accuracy": summarize([r.prequential_accuracy for r in runs]),
            "ece": summarize([r.ece for r in runs]),
            # Labels over the nominal budget of the stream: 1.0 is exactly the budget.
            "spend": summarize([r.labels_used / (budget * r.n_items) for r in runs]),
            "refinements": {k: sum(r.refinements.get(k, 0) for r in runs)
                            for k in ("applied", "rejected", "skipped")},
            "spend_max": max(r.labels_used / (budget * r.n_items) for r in runs),
            "runs": [{"seed": s, **asdict(r)} for s, r in enumerate(runs)],
        }
    bar.close()
    return results
