"""``alstream lineage``: hands over to ``services.trainer.lineage`` (see delegate.py)."""

from __future__ import annotations

import argparse

from services.cli.commands.delegate import delegate

HELP = "what happened to a document: scored, routed, labelled, learned"
EXAMPLES = "  alstream lineage --help"
PASSTHROUGH = True  # the target's own parser handles every argument, --help included
TARGET = "services.trainer.lineage:main"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    return delegate(TARGET, args.extra, "lineage")
