"""``alstream-eval``: how many labels does selective sampling save on your stream?

    alstream-eval --stream STREAM.jsonl --holdout HOLDOUT.jsonl [--text-field text]
        [--label-field label] [--budgets 0.02,0.05,0.1] [--strategies default,random,full]
        [--seeds 3] --json OUT.json

JSONL or CSV (by extension). With ``--timestamp-field`` the stream is replayed in time order,
otherwise in a seeded shuffle (one per seed). Embeddings are cached under ``--cache-dir``
keyed by model and text hash, so only the first run pays for the encoder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from services.common.errors import AlstreamError
from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.selection import strategy_names
from services.common.selection.registry import DEFAULT_STRATEGY
from services.eval.calibration import plot_reliability
from services.eval.compare import compare
from services.eval.data import load_items
from services.eval.embeddings import default_cache
from services.eval.report import plot, table

DEFAULT_BUDGETS = "0.01,0.02,0.05,0.1,0.2"


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") \
            from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"budgets must be fractions in (0, 1]: {text!r}")
    return values


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [n for n in names if n not in strategy_names()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategies {unknown}; known: {', '.join(strategy_names())}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alstream-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stream", required=True, type=Path, help="labelled stream (.jsonl/.csv)")
    p.add_argument("--holdout", required=True, type=Path, help="labelled test set (.jsonl/.csv)")
    p.add_argument("--text-field", default="text")
    p.add_argument("--label-field", default="label")
    p.add_argument("--timestamp-field", default=None,
                   help="order the stream by this field (number or ISO 8601)")
    p.add_argument("--budgets", type=_floats, default=_floats(DEFAULT_BUDGETS),
                   help=f"label budgets as fractions of the stream (default {DEFAULT_BUDGETS})")
    p.add_argument("--strategies", type=_names, default=None,
                   help="comma-separated; default: all of " + ",".join(strategy_names()))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--label-delay", type=int, default=0,
                   help="items between a request and its label (simulated oracle)")
    p.add_argument("--checkpoints", type=int, default=10, help="holdout evaluations per run")
    p.add_argument("--publish-every", type=int, default=20,
                   help="the trainer publishes a model every N labels (0: the scorer uses "
                        "the trainer's model at once); until the first, no model (cold start)")
    p.add_argument("--publish-items", type=int, default=300,
                   help="... or after this many items with a new label (the trainer's 30 s "
                        "at 10 items/s)")
    p.add_argument("--half-life", type=float, default=None,
                   help="the LDA's forgetting half-life in labels (default: the model's)")
    p.add_argument("--no-refine", action="store_true",
                   help="no semi-supervised refinement on unlabeled items (the trainer's "
                        "semisup_enabled=false); by default the replay refines as the trainer "
                        "does before each publish")
    p.add_argument("--refine-window", type=int, default=RefineConfig().window,
                   help="unlabeled items the refinement keeps (trainer: semisup_window)")
    p.add_argument("--refine-weight", type=float, default=RefineConfig().weight,
                   help="weight of one unlabeled item in the refinement (trainer: "
                        "semisup_weight)")
    p.add_argument("--model", choices=["lda", "softmax"], default="lda",
                   help="OnlineClassifier kind (the services' default is lda)")
    p.add_argument("--json", required=True, type=Path, help="where to write the results")
    p.add_argument("--plot", type=Path, default=None, help="learning-curve PNG")
    p.add_argument("--title", default=None, help="plot title (default: the stream's name)")
    p.add_argument("--reliability", type=Path, default=None,
                   help="reliability-diagram PNG of the default strategy at the end (seed 0, "
                        "each budget)")
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/embeddings"))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=256, help="encoder truncation (tokens)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.seeds < 1:
        print("alstream-eval: --seeds must be >= 1", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        fields = (args.text_field, args.label_field, args.timestamp_field)
        stream = load_items(args.stream, *fields)
        holdout = load_items(args.holdout, args.text_field, args.label_field)
    except AlstreamError as exc:
        print(f"alstream-eval: {exc}", file=sys.stderr)
        return 2
    # "default" already is DEFAULT_STRATEGY: running both would replay it twice.
    strategies = args.strategies or [n for n in strategy_names() if n != DEFAULT_STRATEGY]
    cache, make_encoder = default_cache(args.cache_dir, max_length=args.max_length)
    encoder = None

    def embed(texts: list[str]):  # type: ignore[no-untyped-def]
        nonlocal encoder
        if cache.missing(texts) and encoder is None:
            encoder = make_encoder()
        return cache.get(texts, encoder, batch_size=args.batch_size, progress=not args.quiet)

    def model_factory() -> OnlineClassifier:
        if args.half_life is None:
            return OnlineClassifier(kind=args.model)
        return OnlineClassifier(kind=args.model, half_life=args.half_life)

    refine = None if args.no_refine else RefineConfig(window=args.refine_window,
                                                      weight=args.refine_weight)
    started = time.time()
    results = compare(stream, holdout, embed, strategies, args.budgets, args.seeds,
                      label_delay=args.label_delay, checkpoints=args.checkpoints,
                      model_factory=model_factory, progress=not args.quiet,
                      publish_every=args.publish_every, publish_items=args.publish_items,
                      refine=refine)
    out = {
        "stream": str(args.stream),
        "holdout": str(args.holdout),
        "n_stream": len(stream),
        "n_holdout": len(holdout),
        "classes": sorted({it.label for it in stream}),
        "ordered_by": args.timestamp_field or "seeded shuffle",
        "seeds": args.seeds,
        "label_delay": args.label_delay,
        "publish_every": args.publish_every,
        "publish_items": args.publish_items,
        "half_life": args.half_life,
        "refine": None if refine is None else asdict(refine),
        "encoder": cache.model_key,
        "default_strategy": DEFAULT_STRATEGY,
        "model": args.model,
        "seconds": round(time.time() - started, 1),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))
    print(table(results))
    if args.plot is not None:
        plot(results, args.plot, args.title or args.stream.stem)
    if args.reliability is not None and "default" in results:
        diagrams = {f"default {float(b):.0%}": cell["runs"][0]["reliability"]
                    for b, cell in results["default"].items()}
        plot_reliability(diagrams, args.reliability,
                         f"{args.stream.stem.removesuffix('-stream')}: calibration of the "
                         "default's model on the holdout at the end (seed 0)")
    print(f"\nwrote {args.json}" + (f" and {args.plot}" if args.plot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
