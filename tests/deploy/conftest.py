"""Shared helpers for the operations tests: render the chart offline, list its variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "alstream"
VARIANTS = ["default", *sorted(p.stem for p in (CHART / "ci").glob("values-*.yaml"))]

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install -e '.[dev]')")


def values_of(variant: str) -> dict[str, Any]:
    if variant == "default":
        return {}
    return yaml.safe_load((CHART / "ci" / f"{variant}.yaml").read_text()) or {}


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template rel --namespace ml` would."""
    chart = helm.Chart.load(str(CHART))
    return chart.render(values or {}, name="rel", namespace="ml", is_install=True)


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object in a render (NOTES.txt is not one)."""
    out = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".yaml"):
            out.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return out


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Objects of every variant, rendered once per session."""
    return {v: documents(render(values_of(v))) for v in VARIANTS}
