"""The ``alstream`` parser: one subcommand per module in ``services.cli.commands``.

Adding a subcommand (keys, replay, rollback, ...): write ``services/cli/commands/NAME.py`` with
``HELP`` (one line), ``EXAMPLES`` (shown by ``--help``), ``add_arguments(parser)`` and
``run(args) -> int``, and add NAME to ``COMMANDS`` in ``services/cli/commands/__init__.py``.
Packages outside this repository can add one through the ``alstream.commands`` entry-point
group, pointing at such a module. Modules import their heavy dependencies inside ``run``, so
``alstream --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType

from services.cli.commands import COMMANDS

ENTRY_POINT_GROUP = "alstream.commands"


def command_modules() -> dict[str, ModuleType]:
    modules = {name: importlib.import_module(f"services.cli.commands.{name}")
               for name in COMMANDS}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        modules.setdefault(ep.name, ep.load())
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alstream",
        description="Streaming active learning as a service: run the stack, feed it, try it.",
        epilog="First steps: `alstream run` in one shell; `alstream ingest "
               "examples/documents.ndjson` and `alstream classify TEXT` in another; "
               "`alstream demo` shows the whole loop on a real dataset.",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in command_modules().items():
        passthrough = getattr(module, "PASSTHROUGH", False)
        sub = subs.add_parser(
            name, help=module.HELP, description=module.HELP, add_help=not passthrough,
            epilog=f"examples:\n{module.EXAMPLES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run, _passthrough=passthrough)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "_passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `alstream ... | head`
        sys.stderr.close()
        return 0
