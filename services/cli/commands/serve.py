"""``alstream serve SERVICE``: one service as its own process (production mode)."""

from __future__ import annotations

import argparse
import os
import runpy

HELP = "run one service as its own process (production: ALSTREAM_BUS=kafka, _STORE=redis)"
EXAMPLES = """\
  ALSTREAM_BUS=kafka ALSTREAM_STORE=redis alstream serve scorer --port 8002
  alstream serve ingest                 # same as python -m services.ingest"""

SERVICES = {"ingest": "services.ingest", "scorer": "services.scorer",
            "review": "services.review_api", "trainer": "services.trainer"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--port", type=int, help="ALSTREAM_HTTP_PORT (8001-8004 by service)")
    parser.add_argument("--host", help="ALSTREAM_HTTP_HOST (127.0.0.1)")


def run(args: argparse.Namespace) -> int:
    if args.port is not None:
        os.environ["ALSTREAM_HTTP_PORT"] = str(args.port)
    if args.host:
        os.environ["ALSTREAM_HTTP_HOST"] = args.host
    runpy.run_module(SERVICES[args.service], run_name="__main__", alter_sys=True)
    return 0
