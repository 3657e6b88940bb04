"""A drifting real stream: super-class labels whose sub-group mix shifts over time.

20 Newsgroups and Reuters R8 carry no usable timestamps, so drift is built from their label
hierarchy: the stream is labelled by super-class (20NG: comp, rec, sci, politics, religion;
R8: corporate, markets, commodities) and, within each super-class, the sub-groups take turns:
sub-group j of m is centred at time (j + 0.5) / m with a spread of 0.35 / m, so the mix drifts
gradually (e.g. "corporate" is mostly earnings reports early and mostly acquisitions late).
The class prior stays roughly constant; what drifts is what each class looks like, the case
where a model's old statistics outvote new data. As in a real time-ordered stream, the latest
30% is the holdout: it shows where the stream has drifted to.

A third kind covers short texts and two classes (``--short WORDS``): 20NG's computing and
science groups (comp.* against sci.*, nine sub-groups), each text cut to its first WORDS words
(the subject line and the start of the post, about a tweet), drifting the same way; written as
``<name>-short-drift-*.jsonl``.

    python -m services.eval.drifting --out-dir .cache/eval [--short 24] r8 20ng
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.eval.data import Item, load_items

GROUPS: dict[str, dict[str, list[str]]] = {
    "r8": {"corporate": ["earn", "acq"],
           "markets": ["money-fx", "interest", "trade"],
           "commodities": ["crude", "ship", "grain"]},
    "20ng": {"comp": ["comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
                      "comp.sys.mac.hardware", "comp.windows.x"],
             "rec": ["rec.autos", "rec.motorcycles", "rec.sport.baseball", "rec.sport.hockey"],
             "sci": ["sci.crypt", "sci.electronics", "sci.med", "sci.space"],
             "politics": ["talk.politics.guns", "talk.politics.mideast", "talk.politics.misc"],
             "religion": ["alt.atheism", "soc.religion.christian", "talk.religion.misc"]},
}
# Two classes for the short-text stream: the two 20NG super-classes that overlap most.
BINARY: dict[str, dict[str, list[str]]] = {
    "20ng": {"comp": GROUPS["20ng"]["comp"], "sci": GROUPS["20ng"]["sci"]},
}


def drifting(items: list[Item], groups: dict[str, list[str]], seed: int = 0,
             holdout_share: float = 0.3) -> tuple[list[Item], list[Item]]:
    """(stream, holdout): super-class labels in drift order, timestamps 0..n-1; items whose
    label is in no group are left out."""
    rng = np.random.default_rng(seed)
    placed: list[tuple[float, Item]] = []
    for parent, subs in groups.items():
        for j, sub in enumerate(subs):
            members = [it for it in items if it.label == sub]
            times = rng.normal((j + 0.5) / len(subs), 0.35 / len(subs), size=len(members))
            placed += [(float(t), Item(it.text, parent)) for t, it in zip(times, members,
                                                                           strict=True)]
    placed.sort(key=lambda p: p[0])
    ordered = [Item(it.text, it.label, float(i)) for i, (_, it) in enumerate(placed)]
    cut = round(len(ordered) * (1 - holdout_share))
    return ordered[:cut], ordered[cut:]


def export(name: str, out_dir: Path, seed: int = 0, short: int = 0) -> tuple[Path, Path]:
    """From ``<name>-stream.jsonl`` and ``<name>-holdout.jsonl`` (services.eval.datasets),
    pooled, write ``<name>-drift-stream.jsonl`` (field ``t``) and ``<name>-drift-holdout``;
    with ``short`` > 0 the two-class short-text variant ``<name>-short-drift-*``."""
    pool = load_items(out_dir / f"{name}-stream.jsonl") + \
        load_items(out_dir / f"{name}-holdout.jsonl")
    base = name.split("-")[0]
    if short > 0:
        pool = [Item(" ".join(it.text.split()[:short]), it.label) for it in pool]
        name = f"{name}-short"
    stream, holdout = drifting(pool, (BINARY if short > 0 else GROUPS)[base], seed)
    paths = (out_dir / f"{name}-drift-stream.jsonl", out_dir / f"{name}-drift-holdout.jsonl")
    for path, rows in zip(paths, (stream, holdout), strict=True):
        path.write_text("".join(json.dumps({"text": it.text, "label": it.label,
                                            "t": it.timestamp}) + "\n" for it in rows))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m services.eval.drifting", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=["r8", "20ng"],
                   help=f"exported streams whose labels are in one of {sorted(GROUPS)} "
                        "(e.g. 20ng-3k: a sample of 20ng)")
    p.add_argument("--out-dir", type=Path, default=Path(".cache/eval"))
    p.add_argument("--short", type=int, default=0, metavar="WORDS",
                   help=f"write the two-class short-text stream instead ({sorted(BINARY)})")
    args = p.parse_args(argv)
    for name in args.names:
        print(name, *export(name, args.out_dir, short=args.short))
    return 0


if __name__ == "__main__":
    sys.exit(main())
