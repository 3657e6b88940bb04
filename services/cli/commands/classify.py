"""``alstream classify TEXT``: ask the scorer for the current model's answer."""

from __future__ import annotations

import argparse
import json
import sys

from services.cli.commands.common import add_client_options, client, fail

HELP = "classify a text with the model being served (POST /v1/classify)"
EXAMPLES = """\
  alstream classify "The goalie stopped 40 shots"
  echo "New GPU drivers speed up rendering" | alstream classify -
  alstream classify --json "Rates rise again" | jq .probabilities"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the text, or - to read it from stdin")
    parser.add_argument("--json", action="store_true", help="print the whole JSON answer")
    add_client_options(parser)


def run(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        with client(args) as c:
            got = c.classify(text)
    except Exception as exc:  # ApiError or a connection error: one line, exit 1
        return fail(exc)
    if args.json:
        print(json.dumps(got.model_dump(), indent=2))
    elif got.label is None:
        print(f"no prediction yet (model version {got.model_version} has no labels; "
              "label a few items in the review queue first)")
    else:
        top = sorted(got.probabilities.items(), key=lambda kv: -kv[1])[:3]
        others = ", ".join(f"{k} {v:.2f}" for k, v in top)
        print(f"{got.label}  (confidence {got.confidence:.2f}; model v{got.model_version}; "
              f"top: {others})")
    return 0
