"""``alstream replay``: hands over to ``services.trainer.replay`` (see delegate.py)."""

from __future__ import annotations

import argparse

from services.cli.commands.delegate import delegate

HELP = "rebuild a model by replaying the labels topic"
EXAMPLES = "  alstream replay --help"
PASSTHROUGH = True  # the target's own parser handles every argument, --help included
TARGET = "services.trainer.replay:main"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    return delegate(TARGET, args.extra, "replay")
