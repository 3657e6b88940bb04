"""Logging set up once per process: service, instance and version on every line.

Two formats, chosen by ``ALSTREAM_LOG_FORMAT``: ``text`` (the dev default, one readable line)
and ``json`` (one JSON object per line, for log shippers in production). Code that handles one
record or item attaches its ids either with ``extra={"item_id": ...}`` on a single call or with
``log_context(topic=..., partition=..., offset=...)`` around a block: a contextvar, so the ids
follow the asyncio task and never leak into concurrent work.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

LogFormat = Literal["text", "json"]

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(service)s] %(message)s%(context)s"

# Fields that a call site may attach (extra= or log_context) and that the JSON line carries.
# A fixed list: LogRecord has dozens of attributes, and only these are ours.
CONTEXT_FIELDS = (
    "document_id", "item_id", "event_id", "lease_id", "reviewer", "model_version",
    "topic", "partition", "offset", "key", "group",
)

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "alstream_log_context", default=None
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` to every log line emitted inside the block (this task only)."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def package_version() -> str:
    try:
        return metadata.version("alstream")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


class _IdentityFilter(logging.Filter):
    """Stamps service/instance/version and the context fields onto each record."""

    def __init__(self, service: str, instance: str, version: str) -> None:
        super().__init__()
        self.service, self.instance, self.version = service, instance, version

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "service"):
            record.service = self.service
        record.instance = self.instance
        record.version = self.version
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):  # an explicit extra= wins over the context
                setattr(record, name, value)
        fields = {n: getattr(record, n) for n in CONTEXT_FIELDS if hasattr(record, n)}
        record.context = (" " + " ".join(f"{k}={v}" for k, v in fields.items())) if fields else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; keys are stable so log queries can rely on them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None),
            "instance": getattr(record, "instance", None),
            "version": getattr(record, "version", None),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def setup_logging(
    service: str,
    level: str = "INFO",
    fmt: LogFormat = "text",
    instance: str = "",
    version: str | None = None,
) -> logging.Handler:
    """Idempotent: calling it again replaces our handler instead of adding a second one (the
    embedded stack and tests call it more than once per process)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_alstream", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._alstream = True  # type: ignore[attr-defined]
    handler.addFilter(_IdentityFilter(service, instance, version or package_version()))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Kafka client chatter at INFO drowns our own lines.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # faiss tries its AVX512 and AVX2 builds before the generic one and logs each miss with a
    # ModuleNotFoundError at INFO; harmless (the generic build loads), but it reads like a crash.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    return handler
