"""``alstream settings``: every ALSTREAM_ setting, its default and its meaning."""

from __future__ import annotations

import argparse

HELP = "list every ALSTREAM_ environment variable with its default and meaning"
EXAMPLES = """\
  alstream settings                     # the table the README embeds
  alstream settings | grep LEASE"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from services.cli.settings_table import render

    print(render())
    return 0
