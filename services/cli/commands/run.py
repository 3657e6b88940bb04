"""``alstream run``: the embedded stack."""

from __future__ import annotations

import argparse
import os

HELP = "start the embedded stack: all four services in one process, no Kafka or Redis"
EXAMPLES = """\
  alstream run                          # ingest :8001, scorer :8002, review :8003, trainer :8004
  alstream run --host 0.0.0.0           # listen on every interface (auth is off: trusted nets)
  ALSTREAM_LABEL_SET=sports,tech alstream run   # any ALSTREAM_ setting works (README)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (ALSTREAM_HTTP_HOST; 127.0.0.1)")
    parser.add_argument("--first-port", type=int,
                        help="ingest's port; scorer, review and trainer take the next three")


def run(args: argparse.Namespace) -> int:
    # Settings are read at the edge, by the stack's main: flags just become its env vars.
    if args.host:
        os.environ["ALSTREAM_HTTP_HOST"] = args.host
    if args.first_port is not None:
        for i, name in enumerate(("INGEST", "SCORER", "REVIEW", "TRAINER")):
            os.environ[f"ALSTREAM_{name}_PORT"] = str(args.first_port + i)
    from services.stack.__main__ import main

    main()
    return 0
