"""``alstream keys``: hands over to ``services.common.auth.cli`` (see delegate.py)."""

from __future__ import annotations

import argparse

from services.cli.commands.delegate import delegate

HELP = "create, list and revoke API keys (admin)"
EXAMPLES = "  alstream keys --help"
PASSTHROUGH = True  # the target's own parser handles every argument, --help included
TARGET = "services.common.auth.cli:main"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    return delegate(TARGET, args.extra, "keys")
