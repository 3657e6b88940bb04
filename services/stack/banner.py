"""The one block ``make run`` prints when the embedded stack is ready: where, how, what next."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from services.stack.settings import StackSettings


def banner(settings: StackSettings, ready_s: float) -> str:
    h = settings.http_host
    url = {name: f"http://{h}:{port}" for name, port in [
        ("ingest", settings.ingest_port), ("scorer", settings.scorer_port),
        ("review", settings.review_port), ("trainer", settings.trainer_port)]}
    dev_key = _is_dev_key(settings)
    cli = cli_command()
    exposed = h not in ("127.0.0.1", "localhost", "::1")
    lines = [
        "",
        f"alstream is ready ({ready_s:.1f}s) - embedded stack: all four services in this "
        "process, in-memory bus and store (nothing is kept after Ctrl-C)",
        f"  ingest   {url['ingest']:<24} POST /v1/documents, /v1/documents/bulk",
        f"  scorer   {url['scorer']:<24} POST /v1/classify; GET /v1/model, /v1/audit",
        f"  review   {url['review']:<24} POST /v1/review/next, then label or skip the lease",
        f"  trainer  {url['trainer']:<24} GET /v1/status",
        f"  reviewer page  {url['review']}/  (label in the browser; any name: auth is off)",
        f"  API docs {url['ingest']}/docs (and /docs on each);  metrics: /metrics on each",
        "  auth: off (dev mode: no API keys; reviewers name themselves with X-Reviewer)"
        + ("  <- and listening beyond localhost!" if exposed else ""),
        "  model signing: " + ("the development key (fine here; set ALSTREAM_SIGNING_KEY "
                               "in production)" if dev_key else "ALSTREAM_SIGNING_KEY"),
        f"Next, in another shell:  {cli} ingest examples/documents.ndjson",
        f"  then  {cli} classify \"The goalie stopped 40 shots\"  (README: quick start)",
        "",
    ]
    return "\n".join(lines)


def process_age_s(fallback: float) -> float:
    """Seconds since this process started (imports included), where /proc says; else
    ``fallback``."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return fallback


def _is_dev_key(settings: StackSettings) -> bool:
    from services.common import settings as common

    return settings.signing_key.get_secret_value() == getattr(common, "_DEV_KEY", None)


def cli_command() -> str:
    """How this user runs the CLI: ``alstream`` on PATH, the venv's script, or ``-m``."""
    if shutil.which("alstream"):
        return "alstream"
    script = Path(sys.executable).parent / "alstream"
    if script.exists():
        return _short(script)
    return f"{_short(Path(sys.executable))} -m services.cli"


def _short(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("../..") else str(path)
