"""Lineage of one document, and ``alstream-lineage ID`` which prints it.

Answers: what was predicted (probabilities, by which version), whether it was routed to review
and why, its label (who, when, from which source) and the model version that first learned that
label, plus what is served now. Reads the store only (services/common/store/lineage.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel, Field

from services.common.errors import NotFound
from services.common.schemas import Prediction
from services.common.store import ServingState, Store
from services.common.store.lineage import LabelFact

_WHY = {
    "uncertainty": "the model was uncertain about it (inside the label budget)",
    "committee": "the committee of models disagreed on it",
    "audit": "a uniform random audit sample (unbiased accuracy estimate)",
    "cold_start": "too few labels yet for a model (cold start)",
    "drift": "drift was detected and the query rate raised",
}


class Routing(BaseModel):
    """Whether the scorer sent the document to a human, and why."""

    routed: bool = Field(description="Sent to the review queue")
    reason: str | None = Field(description="The routing reason (see Reason); null if not routed")
    explanation: str = Field(description="The reason in words")


class DocumentLineage(BaseModel):
    """What happened to one document, from its prediction to the version that learned it."""

    id: str = Field(description="The document's id")
    prediction: Prediction | None = Field(
        description="Its latest prediction; null if not kept (or never scored)")
    routing: Routing | None = Field(description="Its routing; null without a prediction")
    label: LabelFact | None = Field(description="Its label; null while it has none")
    serving: ServingState | None = Field(
        description="What is served now; null before the first promotion")


async def document_lineage(store: Store, doc_id: str) -> DocumentLineage:
    prediction = await store.lineage.prediction(doc_id)
    label = await store.lineage.label(doc_id)
    if prediction is None and label is None:
        raise NotFound(f"nothing is known about document {doc_id!r}: never scored, or older "
                       f"than the lineage retention (lineage_max_items, lineage_max_age_s)")
    routing = None
    if prediction is not None:
        reason = prediction.reason.value if prediction.reason else None
        explanation = (_WHY.get(reason or "", reason or "routed") if prediction.routed else
                       "not routed: confident enough, outside the budget, or a near-duplicate")
        routing = Routing(routed=prediction.routed, reason=reason, explanation=explanation)
    return DocumentLineage(id=doc_id, prediction=prediction, routing=routing, label=label,
                           serving=await store.models.serving())


def render(doc: dict[str, Any]) -> str:
    lines = [f"document  {doc['id']}"]
    p = doc.get("prediction")
    if p:
        probs = ", ".join(f"{k} {v:.3f}" for k, v in
                          sorted(p["probabilities"].items(), key=lambda kv: -kv[1]))
        lines += [f"predicted {p['label']} (confidence {p['confidence']:.3f}) by version "
                  f"{p['model_version']} at {p['scored_at']}", f"          {probs}"]
    else:
        lines.append("predicted (no prediction kept)")
    r = doc.get("routing")
    if r:
        lines.append(f"routed    {'yes' if r['routed'] else 'no'}: {r['explanation']}")
    lab = doc.get("label")
    if lab:
        lines.append(f"label     {lab['label']} ({lab['status']}) by {lab['reviewer']} "
                     f"[{lab['source']}] at {lab['labeled_at']}, event {lab['event_id']}")
        lines.append(f"learned   first in version {lab['learned_in_version']}")
    else:
        lines.append("label     none")
    s = doc.get("serving")
    if s:
        lines.append(f"serving   version {s['version']}{' (pinned)' if s['pinned'] else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import httpx

    parser = argparse.ArgumentParser(prog="alstream-lineage",
                                     description="What happened to a document")
    parser.add_argument("id")
    parser.add_argument("--url", default="http://127.0.0.1:8004", help="the trainer")
    parser.add_argument("--key", default=None, help="API key (app or admin role)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    from urllib.parse import quote

    resp = httpx.get(f"{args.url}/v1/documents/{quote(args.id, safe='/')}", headers=headers,
                     timeout=10.0)
    if resp.status_code != 200:
        print(f"{resp.status_code}: {resp.text}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(resp.json(), indent=2) if args.json else render(resp.json()))


if __name__ == "__main__":
    main()
