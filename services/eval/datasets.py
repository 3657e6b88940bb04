"""Write the bundled 20 Newsgroups and Reuters R8 data as JSONL streams for ``alstream-eval``.

    python -m services.eval.datasets [--out-dir .cache/eval] [--holdout-size 2000] [20ng r8]

``<name>-stream.jsonl`` is the train split; ``<name>-holdout.jsonl`` a seeded sample of the
test split (all of it when smaller than ``--holdout-size``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from services.eval.data import export_builtin


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.eval.datasets", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=["20ng", "r8"], choices=["20ng", "r8"])
    p.add_argument("--out-dir", type=Path, default=Path(".cache/eval"))
    p.add_argument("--holdout-size", type=int, default=2000)
    p.add_argument("--stream-size", type=int, default=None,
                   help="a seeded sample of the train split (<name>-<k>k-stream.jsonl)")
    args = p.parse_args(argv)
    for name in args.names:
        stream, holdout = export_builtin(name, args.out_dir, holdout_size=args.holdout_size,
                                         stream_size=args.stream_size)
        print(f"{name}: {stream} {holdout}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
