"""Logging set up once per process, with the service name on every line."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(service)s] %(message)s"


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "service"):
            record.service = self.service
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    """Idempotent: the embedded stack calls it once for all services."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_alstream", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._alstream = True  # type: ignore[attr-defined]
    handler.addFilter(_ServiceFilter(service))
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Kafka client chatter at INFO drowns our own lines.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # faiss tries its AVX512 and AVX2 builds before the generic one and logs each miss with a
    # ModuleNotFoundError at INFO; harmless (the generic build loads), but it reads like a crash.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
