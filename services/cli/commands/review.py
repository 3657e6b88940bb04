"""``alstream review``: the review queue from a terminal (next, label, skip, undo, stats)."""

from __future__ import annotations

import argparse
import json

from services.cli.commands.common import add_client_options, client, fail

HELP = "lease, label, skip or undo review items from a terminal"
EXAMPLES = """\
  alstream review next --reviewer alice           # prints the item and its lease id
  alstream review label LEASE_ID sports --reviewer alice
  alstream review skip LEASE_ID --reviewer alice
  alstream review undo EVENT_ID --reviewer alice  # within the undo window
  alstream review stats"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["next", "label", "skip", "undo", "stats"])
    parser.add_argument("ids", nargs="*", metavar="ARG",
                        help="label: LEASE_ID LABEL; skip: LEASE_ID; undo: EVENT_ID")
    parser.add_argument("--reviewer", help="X-Reviewer (embedded dev stack only); "
                        "with keys the reviewer is the key's owner")
    add_client_options(parser)


_ARITY = {"next": 0, "label": 2, "skip": 1, "undo": 1, "stats": 0}


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != _ARITY[args.action]:
        print(f"alstream review {args.action}: expected {_ARITY[args.action]} argument(s), "
              f"got {len(args.ids)}; see --help")
        return 2
    try:
        with client(args, reviewer=args.reviewer) as c:
            if args.action == "next":
                item = c.review_next()
                out: object = item.model_dump() if item else None
                if item is None:
                    print("nothing to review right now (see README: why the queue can be empty)")
                    return 0
            elif args.action == "label":
                out = c.label(args.ids[0], args.ids[1]).model_dump()
            elif args.action == "skip":
                c.skip(args.ids[0])
                out = {"skipped": args.ids[0]}
            elif args.action == "undo":
                out = c.undo(args.ids[0])
            else:
                out = c.review_stats()
    except Exception as exc:
        return fail(exc)
    print(json.dumps(out, indent=2))
    return 0
