"""``alstream pin``: hands over to ``services.trainer.pin_cli`` (see delegate.py)."""

from __future__ import annotations

import argparse

from services.cli.commands.delegate import delegate

HELP = "pin (roll back to) or unpin a model version"
EXAMPLES = "  alstream pin --help"
PASSTHROUGH = True  # the target's own parser handles every argument, --help included
TARGET = "services.trainer.pin_cli:main"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    return delegate(TARGET, args.extra, "pin")
