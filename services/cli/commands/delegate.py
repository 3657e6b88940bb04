"""Subcommands that hand over to another module's ``main(argv)`` (keys, replay, lineage, pin).

Each such module's own parser owns its options and ``--help``; the target is imported only
when the subcommand runs, so ``alstream --help`` never depends on it.
"""

from __future__ import annotations

import importlib
import sys


def delegate(target: str, argv: list[str], name: str) -> int:
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # a dependency of the target is missing: show the real error
        print(f"alstream {name}: not part of this build ({module_name} is missing)",
              file=sys.stderr)
        return 2
    sys.argv[0] = f"alstream {name}"
    result = getattr(module, func)(argv)
    return int(result or 0)
