"""``alstream eval``: the offline comparison of selection strategies (``alstream-eval``).

Every argument goes to the evaluator unchanged, ``--help`` included, so its full option list
is what ``alstream eval --help`` shows."""

from __future__ import annotations

import argparse

HELP = "replay a labelled stream and compare selection strategies at fixed label budgets"
EXAMPLES = """\
  alstream eval --stream stream.jsonl --holdout holdout.jsonl --budgets 0.05,0.1 --json out.json
  alstream eval --stream s.csv --holdout h.csv --text-field body --plot curve.png"""
PASSTHROUGH = True  # main.py hands unparsed arguments over as args.extra


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from services.eval.__main__ import main

    return main(args.extra)
