"""Options and helpers shared by the subcommands that talk to a running stack."""

from __future__ import annotations

import argparse
import os
import sys

from services.client import ApiError, Client, Endpoints


def add_client_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--host", default=None,
                       help="host of the embedded stack (ports 8001-8004); default 127.0.0.1, "
                            "or ALSTREAM_{INGEST,SCORER,REVIEW,TRAINER}_URL per service")
    group.add_argument("--api-key", default=os.environ.get("ALSTREAM_API_KEY"),
                       help="API key (Bearer token); default $ALSTREAM_API_KEY. "
                            "The embedded stack runs with auth off and needs none")


def client(args: argparse.Namespace, reviewer: str | None = None) -> Client:
    endpoints = Endpoints.local(args.host) if args.host else Endpoints.from_env()
    return Client(endpoints, api_key=args.api_key,
                  reviewer=reviewer or os.environ.get("ALSTREAM_REVIEWER"))


def describe(detail: object) -> str:
    """A server's ``detail`` for a person: FastAPI's validation list becomes "field: message"."""
    if isinstance(detail, list) and all(isinstance(d, dict) and "msg" in d for d in detail):
        parts = []
        for d in detail:
            loc = [str(p) for p in d.get("loc", []) if p not in ("body", "batch", "one")]
            field = ".".join(loc[-1:]) if loc else ""
            parts.append(f"{field}: {d['msg']}" if field else str(d["msg"]))
        return "; ".join(parts)
    return str(detail)


def fail(exc: Exception) -> int:
    """One readable line instead of a traceback, for the errors a user can act on."""
    if isinstance(exc, ApiError):
        print(f"alstream: HTTP {exc.status}: {describe(exc.detail)}", file=sys.stderr)
    else:
        print(f"alstream: cannot reach the stack ({exc}); is `alstream run` running?",
              file=sys.stderr)
    return 1
