"""``alstream demo``: the whole loop on a real dataset (see services/cli/demo.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HELP = "watch the whole loop: stream a real dataset, a simulated reviewer labels, model learns"
EXAMPLES = """\
  alstream demo                          # 20 Newsgroups (6 groups), 1500 documents, ~2-4 min
  alstream demo --docs 600               # a quicker look
  alstream demo --dataset r8 --budget 0.05 --plot r8-curve.png"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=["20ng", "r8"], default="20ng",
                        help="20 Newsgroups (six groups) or Reuters R8; fetched into .cache/data")
    parser.add_argument("--docs", type=int, default=1500, help="documents to stream")
    parser.add_argument("--holdout", type=int, default=300, help="held-out documents scored")
    parser.add_argument("--budget", type=float, default=0.1,
                        help="ALSTREAM_LABEL_BUDGET: share of the stream sent to the reviewer")
    parser.add_argument("--plot", type=Path, default=Path(".run/demo/learning-curve.png"),
                        help="where the learning-curve PNG goes")
    parser.add_argument("--timeout", type=float, default=1200, help="give up after (seconds)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from services.cli.demo import ROOT, StackProcess, run_loop, stack_env
    from services.cli.demo_data import prepare
    from services.cli.demo_report import plot, reference, served_accuracy
    from services.client import Client

    if args.docs < 20 or args.holdout < 10 or not 0 < args.budget <= 1:
        print("alstream demo: need --docs >= 20, --holdout >= 10, 0 < --budget <= 1",
              file=sys.stderr)
        return 2
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    started = time.monotonic()
    data = prepare(args.dataset, args.docs, args.holdout, args.seed)
    say(f"alstream demo: {len(data.stream)} documents of {args.dataset} "
        f"({len(data.descriptions)} classes) through the embedded stack; label budget "
        f"{args.budget:.0%}; a simulated reviewer answers the queue with the true labels.")
    stack = StackProcess(ROOT / ".run" / "demo" / "stack.log", stack_env(data, args.budget))
    say(f"starting the stack (log: {stack.log_path.relative_to(ROOT)}) ...")
    try:
        stack.start(timeout_s=300)
        say(f"stack ready after {time.monotonic() - started:.0f}s; streaming")
        with Client(stack.endpoints, reviewer="demo-reviewer") as client:
            progress = run_loop(client, stack.endpoints, data, args.timeout)
            say(f"scoring the {len(data.holdout)} holdout documents with the served model ...")
            served = served_accuracy(client, data)
    finally:
        stack.stop()
    say("offline reference: embeddings (cached after the first run), then replays ...")
    report = reference(data, progress.labeled, served, ROOT / ".cache" / "embeddings")
    title = (f"alstream demo: {args.dataset}, {report.documents} documents streamed, "
             f"{report.labels} labelled by the simulated reviewer")
    path = plot(report, title, args.plot)
    print(report.summary())
    print(f"learning curve   {path}   ({time.monotonic() - started:.0f}s in all)")
    return 0
